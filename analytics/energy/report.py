"""The logic of `twin energy report`: meter rows in, per-machine/line/product totals out.

The report takes already-fetched meter rows (from InfluxDB, a CSV file, or a test), so it
runs without a database. For each asset it integrates counters or power into intervals
(with the roll-over / reset / gap rules of `counters`), clips them to [start, end), prices
them with the tariff, converts them to CO2e with the grid factor, and groups by machine,
line or product. Rows just before `start` are needed to get the first interval right:
a source should fetch from `start − max_interval_s` (see `fetch_window`).

CSV format (`read_csv`): a header row with `timestamp` (ISO 8601 with offset; without one,
the plant time zone is assumed), `asset`, and either `energy_kwh` (cumulative counter) or
`power_kw`; optional `good_parts` (good parts completed since the previous row of that
asset), `line`, `product` (being made in the interval ending at the row), `state` (machine
state in that interval).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Literal, Protocol
from zoneinfo import ZoneInfo

from analytics.energy.config import MeterConfig
from analytics.energy.counters import DEFAULT_MAX_INTERVAL_S, CounterIntegrator, CounterSettings, PowerIntegrator
from analytics.energy.errors import DataError
from analytics.energy.intervals import EnergyInterval, IntervalKind, clip, require_aware
from analytics.energy.kpis import IDLE_STATES, kwh_per_good_part
from analytics.energy.tariffs import DEFAULT_TZ, Tariff
from twin.timezones import UnknownTimeZone, zone

GroupBy = Literal["machine", "line", "product"]
NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class MeterRow:
    """One meter reading of one asset: a counter (kWh) or a power (kW) value, plus labels."""

    ts: datetime
    asset: str
    energy_kwh: float | None = None
    power_kw: float | None = None
    good_parts: float | None = None
    line: str | None = None
    product: str | None = None
    state: str | None = None


class ReportSource(Protocol):
    """Where the report's rows come from: called with the window to fetch (already widened)."""

    def __call__(self, start: datetime, end: datetime) -> Iterable[MeterRow]:
        """Rows with start <= ts <= end, any order."""
        ...


def fetch_window(start: datetime, end: datetime, max_interval_s: float = DEFAULT_MAX_INTERVAL_S
                 ) -> tuple[datetime, datetime]:
    """The window a source should fetch for a report on [start, end): includes the reading before start.

    Both ends in UTC; DataError when the widened window leaves the years datetime can hold (1..9999).
    """
    if not math.isfinite(max_interval_s) or max_interval_s < 0:
        raise DataError(f"max_interval_s must be a finite number of seconds >= 0, got {max_interval_s}")
    try:
        margin = timedelta(seconds=max_interval_s)
        return (require_aware(start, "--from") - margin).astimezone(UTC), \
            (require_aware(end, "--to") + margin).astimezone(UTC)
    except OverflowError:
        raise DataError(f"report window {start.isoformat()} .. {end.isoformat()}, widened by {max_interval_s:g} s "
                        f"to take in the readings either side, leaves the years 1..9999") from None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Totals for one group (machine, line or product)."""

    key: str
    energy_kwh: float
    cost_cny: float
    co2e_kg: float
    idle_kwh: float
    good_parts: float
    kwh_per_good_part: float | None
    gaps: int
    resets: int
    rollovers: int


@dataclass(frozen=True, slots=True)
class EnergyReport:
    """The report: one row per group and a total row."""

    start: datetime
    end: datetime
    by: GroupBy
    rows: tuple[ReportRow, ...]
    total: ReportRow
    tariff: str
    factor_id: str
    factor_kg_per_kwh: float
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class _Acc:
    energy: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)
    good_parts: list[float] = field(default_factory=list)
    gaps: int = 0
    resets: int = 0
    rollovers: int = 0

    def row(self, key: str, factor_kg_per_kwh: float) -> ReportRow:
        e = math.fsum(self.energy)
        gp = math.fsum(self.good_parts)
        return ReportRow(key=key, energy_kwh=e, cost_cny=math.fsum(self.cost), co2e_kg=e * factor_kg_per_kwh,
                         idle_kwh=math.fsum(self.idle), good_parts=gp, kwh_per_good_part=kwh_per_good_part(e, gp),
                         gaps=self.gaps, resets=self.resets, rollovers=self.rollovers)

    def merge(self, other: _Acc) -> None:
        self.energy += other.energy
        self.cost += other.cost
        self.idle += other.idle
        self.good_parts += other.good_parts
        self.gaps += other.gaps
        self.resets += other.resets
        self.rollovers += other.rollovers


def _integrate(rows: Sequence[MeterRow], meter: MeterConfig | None,
               default_settings: CounterSettings) -> list[tuple[EnergyInterval, MeterRow]]:
    """Intervals of one asset, each with the row at its end (which carries its labels)."""
    out: list[tuple[EnergyInterval, MeterRow]] = []
    is_counter = any(r.energy_kwh is not None for r in rows)
    settings = meter.to_settings() if meter is not None else default_settings
    if is_counter:
        ci = CounterIntegrator(settings)
        for r in rows:
            if r.energy_kwh is not None and (iv := ci.update(r.ts, r.energy_kwh)) is not None:
                out.append((iv, r))
    else:
        pi = PowerIntegrator(max_interval_s=settings.max_interval_s)
        for r in rows:
            if r.power_kw is not None and (iv := pi.update(r.ts, r.power_kw)) is not None:
                out.append((iv, r))
    return out


def build_report(rows: Iterable[MeterRow], *, start: datetime, end: datetime, by: GroupBy = "machine",
                 tariff: Tariff | None, factor_kg_per_kwh: float, factor_id: str = "",
                 meters: Mapping[str, MeterConfig] | None = None,
                 settings: CounterSettings | None = None,
                 idle_states: frozenset[str] = IDLE_STATES) -> EnergyReport:
    """Energy, cost, CO2e, idle energy and kWh per good part on [start, end), grouped `by`."""
    start, end = require_aware(start, "--from"), require_aware(end, "--to")
    if end <= start:
        raise DataError(f"report window is empty: {start.isoformat()} .. {end.isoformat()}")
    meters = meters or {}
    default_settings = settings or CounterSettings()
    per_asset: dict[str, list[MeterRow]] = {}
    for r in rows:
        per_asset.setdefault(r.asset, []).append(r)
    groups: dict[str, _Acc] = {}
    for asset, asset_rows in sorted(per_asset.items()):
        asset_rows.sort(key=lambda r: r.ts)
        meter = meters.get(asset)
        for iv, row in _integrate(asset_rows, meter, default_settings):
            if by == "machine":
                key = asset
            elif by == "line":
                key = row.line or (meter.line if meter else None) or NONE_LABEL
            else:
                key = row.product or NONE_LABEL
            acc = groups.setdefault(key, _Acc())
            # Parts completed in the interval ending at the row count when the row is in (start, end].
            if row.good_parts and start < row.ts <= end:
                acc.good_parts.append(row.good_parts)
            part = clip(iv, start, end)
            if part is None:
                continue
            acc.energy.append(part.energy_kwh)
            acc.cost.append(tariff.interval_cost_cny(part) if tariff is not None else 0.0)
            if row.state is not None and row.state in idle_states:
                acc.idle.append(part.energy_kwh)
            acc.gaps += int(part.gap)
            acc.resets += int(part.kind is IntervalKind.RESET)
            acc.rollovers += int(part.kind is IntervalKind.ROLLOVER)
    total = _Acc()
    for acc in groups.values():
        total.merge(acc)
    notes: list[str] = []
    if total.gaps:
        notes.append(f"{total.gaps} interval(s) span data gaps: their energy is counted once, flagged")
    if total.resets:
        notes.append(f"{total.resets} counter reset(s): energy between the last reading and each reset is lost")
    if tariff is None:
        notes.append("no tariff: cost not computed")
    elif tariff.source.startswith("illustrative"):
        notes.append(f"cost uses the illustrative example tariff {tariff.name!r}, not a published tariff")
    return EnergyReport(
        start=start, end=end, by=by,
        rows=tuple(groups[k].row(k, factor_kg_per_kwh) for k in sorted(groups)),
        total=total.row("TOTAL", factor_kg_per_kwh),
        tariff=tariff.name if tariff is not None else "", factor_id=factor_id,
        factor_kg_per_kwh=factor_kg_per_kwh, notes=tuple(notes),
    )


COLUMNS = ("energy_kwh", "cost_cny", "co2e_kg", "idle_kwh", "good_parts", "kwh_per_good_part", "gaps", "resets",
           "rollovers")


def to_csv(report: EnergyReport) -> str:
    """The report as CSV: one row per group, then TOTAL."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([report.by, *COLUMNS])
    for r in (*report.rows, report.total):
        d = asdict(r)
        w.writerow([r.key, *("" if d[c] is None else _fmt(d[c]) for c in COLUMNS)])
    return buf.getvalue()


def to_json(report: EnergyReport) -> str:
    """The report as JSON (numbers unrounded)."""
    return json.dumps({
        "from": report.start.isoformat(), "to": report.end.isoformat(), "by": report.by,
        "tariff": report.tariff, "factor_id": report.factor_id, "factor_kg_per_kwh": report.factor_kg_per_kwh,
        "rows": [asdict(r) for r in report.rows], "total": asdict(report.total), "notes": list(report.notes),
    }, indent=2, ensure_ascii=False)


def _fmt(v: float | int) -> str:
    """Numbers in CSV: integers as such, floats to 6 decimals (sub-Wh, sub-fen)."""
    if isinstance(v, int):
        return str(v)
    return f"{v:.6f}"


def _parse_ts(text: str, tz: ZoneInfo) -> datetime:
    try:
        ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"timestamp {_show(text)} is not ISO 8601 (e.g. 2026-03-02T08:00:00+08:00)") from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _opt_float(d: Mapping[str, str | None], key: str) -> float | None:
    v = (d.get(key) or "").strip()
    if not v:
        return None
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{key} {_show(v)} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{key} {_show(v)} is not a finite number")
    return x


def _show(text: str, limit: int = 40) -> str:
    """A value from the file for an error message: quoted, and cut so one bad cell is not a page."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _opt_str(d: Mapping[str, str | None], key: str) -> str | None:
    v = (d.get(key) or "").strip()
    return v or None


def read_csv(source: str | Path | IO[str], *, timezone: str = DEFAULT_TZ) -> list[MeterRow]:
    """Meter rows from CSV (format in the module docstring); DataError names the file and the bad line."""
    try:
        tz = zone(timezone)
    except UnknownTimeZone as exc:
        raise DataError(str(exc)) from None
    if isinstance(source, str | Path):
        try:
            with open(source, encoding="utf-8", newline="") as f:
                return read_csv(f, timezone=timezone)
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
        except OSError as exc:
            raise DataError(f"{source}: cannot read: {exc.strerror or exc}") from None
        except csv.Error as exc:
            raise DataError(f"{source}: not a CSV file: {exc}") from None
        except DataError as exc:
            raise DataError(f"{source}: {exc}") from None
    reader = csv.DictReader(source)
    cols = set(reader.fieldnames or ())
    if not {"timestamp", "asset"} <= cols or not cols & {"energy_kwh", "power_kw"}:
        shown = ", ".join(_show(c) for c in sorted(cols)[:20]) or "none"
        raise DataError(f"CSV needs columns timestamp, asset and energy_kwh or power_kw; found {shown}")
    out: list[MeterRow] = []
    for lineno, d in enumerate(reader, start=2):
        # A short row leaves its last columns None (csv.DictReader); an empty asset is no asset.
        missing = [c for c in ("timestamp", "asset") if not (d.get(c) or "").strip()]
        if missing:
            raise DataError(f"CSV line {lineno}: no {' or '.join(missing)}")
        try:
            out.append(MeterRow(
                ts=_parse_ts(d["timestamp"] or "", tz), asset=(d["asset"] or "").strip(),
                energy_kwh=_opt_float(d, "energy_kwh"), power_kw=_opt_float(d, "power_kw"),
                good_parts=_opt_float(d, "good_parts"), line=_opt_str(d, "line"),
                product=_opt_str(d, "product"), state=_opt_str(d, "state"),
            ))
        except ValueError as exc:
            raise DataError(f"CSV line {lineno}: {exc}") from None
    return out


def csv_source(path: str | Path, *, timezone: str = DEFAULT_TZ) -> ReportSource:
    """A ReportSource reading a CSV file (rows filtered to the window)."""
    rows = read_csv(path, timezone=timezone)

    def fetch(start: datetime, end: datetime) -> list[MeterRow]:
        return [r for r in rows if start <= r.ts <= end]

    return fetch
