"""Reading SPC data from CSV files (the format `twin spc analyze` documents).

Columns are matched case-insensitively after trimming spaces; a UTF-8 byte-order mark
(as written by Excel) is ignored.

- Variables charts (imr, xbar-r, xbar-s, ewma, cusum): a `value` column (or the one named
  by `value_column`). Optional `subgroup`: rows with the same label form one subgroup, in
  order of first appearance; without it, X̄ charts cut consecutive rows into subgroups of
  `subgroup_size`. Optional `timestamp` (ISO 8601); a subgroup takes the timestamp of
  its last row.
- Attributes charts: the count in `defectives` (p, np) or `defects` (c, u) — `count` is
  accepted for either — and the inspected size in `n` or `size` (needed for p and u; for
  np it may be given by `sample_size` instead; c assumes one inspection unit).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from analytics.spc.errors import SpcDataError
from analytics.spc.phase1 import ATTRIBUTES_CHARTS, Samples

_COUNT_COLUMNS = {"p": ("defectives", "count"), "np": ("defectives", "count"), "c": ("defects", "count"),
                  "u": ("defects", "count")}
_SIZE_COLUMNS = ("n", "size")


def _number(text: str, column: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpcDataError(f"line {line}: column {column!r} holds {_show(text)}, which is not a number") from None
    if not math.isfinite(value):
        raise SpcDataError(f"line {line}: column {column!r} holds {_show(text)}; values must be finite")
    return value


def _timestamp(text: str, line: int) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise SpcDataError(f"line {line}: timestamp {_show(text)} is not ISO 8601 (e.g. 2026-11-26T08:00:00Z)") \
            from None


def _show(text: str, limit: int = 40) -> str:
    """A cell for an error message: quoted, and cut so one bad cell does not fill the screen."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _pick(columns: dict[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        if name in columns:
            return columns[name]
    return None


def read_samples(path: str | Path, chart: str, *, subgroup_size: int | None = None,
                 sample_size: int | None = None, value_column: str = "value") -> Samples:
    """Read a CSV into `Samples` for `chart`; raises SpcDataError naming the line and column at fault."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise SpcDataError("the file is empty (expected a header row)")
            columns = {name.strip().lower(): name for name in reader.fieldnames if name is not None}
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise SpcDataError(f"not a UTF-8 text file ({exc.reason})") from None
    except csv.Error as exc:
        raise SpcDataError(f"not a readable CSV file: {exc}") from None
    if not rows:
        raise SpcDataError("the file has a header but no data rows")
    found = ", ".join(repr(c) for c in columns) or "none"
    ts_col = columns.get("timestamp")

    def cell(row: dict[str, str | None], col: str, line: int) -> str:
        text = row.get(col)
        if text is None or not text.strip():
            raise SpcDataError(f"line {line}: column {col!r} is empty")
        return text.strip()

    if chart in ATTRIBUTES_CHARTS:
        count_col = _pick(columns, _COUNT_COLUMNS[chart])
        if count_col is None:
            raise SpcDataError(f"{chart} chart needs a column named {' or '.join(_COUNT_COLUMNS[chart])}; "
                               f"found columns: {found}")
        size_col = _pick(columns, _SIZE_COLUMNS)
        if size_col is None and chart in ("p", "u"):
            raise SpcDataError(f"{chart} chart needs the inspected size in a column 'n' or 'size'; found columns: "
                               f"{found}")
        if size_col is None and chart == "np" and sample_size is None:
            raise SpcDataError("np chart needs the sample size: a column 'n' or 'size', or --sample-size")
        counts, sizes, stamps = [], [], []
        for line, row in enumerate(rows, start=2):
            counts.append(_number(cell(row, count_col, line), count_col, line))
            if size_col is not None:
                sizes.append(_number(cell(row, size_col, line), size_col, line))
            else:
                sizes.append(float(sample_size) if sample_size is not None else 1.0)
            stamps.append(_timestamp((row.get(ts_col) or "").strip(), line) if ts_col else None)
        return Samples(counts=tuple(counts), sizes=tuple(sizes), timestamps=tuple(stamps))

    v_col = columns.get(value_column.strip().lower())
    if v_col is None:
        raise SpcDataError(f"no {value_column!r} column; found columns: {found}")
    sg_col = columns.get("subgroup")
    values: list[tuple[float, str | None, datetime | None]] = []
    for line, row in enumerate(rows, start=2):
        label = cell(row, sg_col, line) if sg_col else None
        ts = _timestamp((row.get(ts_col) or "").strip(), line) if ts_col else None
        values.append((_number(cell(row, v_col, line), v_col, line), label, ts))

    groups: list[list[float]] = []
    stamps_g: list[datetime | None] = []
    if chart in ("xbar-r", "xbar-s"):
        if sg_col is not None:
            order: dict[str, int] = {}
            for v, label, ts in values:
                key = label or ""  # never empty here: `cell` refuses an empty subgroup label
                if key not in order:
                    order[key] = len(groups)
                    groups.append([])
                    stamps_g.append(None)
                groups[order[key]].append(v)
                stamps_g[order[key]] = ts
        else:
            if subgroup_size is None:
                raise SpcDataError(f"{chart} needs subgroups: a 'subgroup' column or --subgroup-size")
            if len(values) % subgroup_size:
                raise SpcDataError(f"{len(values)} rows do not split into subgroups of {subgroup_size}: "
                                   f"the last subgroup has only {len(values) % subgroup_size}")
            for i in range(0, len(values), subgroup_size):
                groups.append([v for v, _, _ in values[i:i + subgroup_size]])
                stamps_g.append(values[i + subgroup_size - 1][2])
    else:
        groups = [[v] for v, _, _ in values]
        stamps_g = [ts for _, _, ts in values]
    return Samples(subgroups=tuple(tuple(g) for g in groups), timestamps=tuple(stamps_g))
