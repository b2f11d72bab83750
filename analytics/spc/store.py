"""Frozen SPC limits that outlive the service, with the audit trail a quality engineer signs off.

One row per characteristic and product (`LimitsKey`: asset path, characteristic, product)
holds the limits in force (`LimitsRecord`): the chart, the frozen centre and σ, the
centre line and control limits they gave, where they came from — `estimated` by Phase I
(source times of the first and last baseline measurement, how many, the chart design)
or `manual` (a quality engineer's) — and the revision that put them there. Every change
is appended to `history` with who, when (wall-clock UTC) and why; the history cannot be
edited (triggers refuse UPDATE and DELETE), so it is the record a sign-off refers to.

Who writes: the SPC service when a Phase I baseline freezes its limits (action
`estimated`); `twin spc limits set` (action `set`) and `twin spc limits reset` (`reset`:
the row goes, the next data run a new Phase I). The service reads the rows when it starts
and polls the revision while it runs, so a change made with the CLI takes effect within
seconds, without a restart (analytics/spc/service.py).

File: `$TWIN_STATE_DIR/spc-limits.sqlite` (SQLite, WAL, `synchronous=FULL`: a limit change
is rare and must not vanish in a power cut). Each call opens its own short connection, so
the CLI and any number of services can use the file at once.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from analytics.spc.charts import CusumChart, EwmaChart, IndividualsChart, XbarRChart, XbarSChart
from analytics.spc.config import CharacteristicSpc
from analytics.spc.errors import SpcConfigError, SpcError
from analytics.spc.evaluator import BaselineInfo
from analytics.spc.phase1 import ATTRIBUTES_CHARTS, build_chart
from analytics.spc.points import Limits
from twin.sqlite import transaction

LIMITS_FILE = "spc-limits.sqlite"
Action = Literal["estimated", "set", "reset"]
ACTIONS: tuple[Action, ...] = ("estimated", "set", "reset")

_RECORD_COLUMNS = ("chart", "subgroup_size", "center", "sigma", "cl", "lcl", "ucl", "source", "first_ts", "last_ts",
                   "samples", "points", "parameters")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset TEXT NOT NULL,
    characteristic TEXT NOT NULL,
    product TEXT NOT NULL,               -- '' when the asset names no product
    action TEXT NOT NULL CHECK (action IN ('estimated', 'set', 'reset')),
    at TEXT NOT NULL,                    -- wall-clock UTC, ISO 8601
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    chart TEXT, subgroup_size INTEGER, center REAL, sigma REAL, cl REAL, lcl REAL, ucl REAL, source TEXT,
    first_ts TEXT, last_ts TEXT, samples INTEGER, points INTEGER, parameters TEXT
);
CREATE INDEX IF NOT EXISTS history_key ON history (asset, characteristic, product, id);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'the SPC limits history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'the SPC limits history is append-only'); END;
CREATE TABLE IF NOT EXISTS limits (
    asset TEXT NOT NULL,
    characteristic TEXT NOT NULL,
    product TEXT NOT NULL,
    revision INTEGER NOT NULL REFERENCES history (id),
    PRIMARY KEY (asset, characteristic, product)
);
"""


class SpcStoreError(SpcError):
    """The SPC limits file cannot be opened, read or written."""


def limits_path(state_dir: Path | str) -> Path:
    """Where the SPC limits of this host are kept."""
    return Path(state_dir) / LIMITS_FILE


@dataclass(frozen=True, slots=True)
class LimitsKey:
    """One chart: an asset (full path `site/area/line/asset`), its characteristic and the product (None: none)."""

    asset: str
    characteristic: str
    product: str | None = None

    @property
    def label(self) -> str:
        """`asset/characteristic [product]`, with the asset's own name (what the CLI takes)."""
        text = f"{self.asset.rsplit('/', 1)[-1]}/{self.characteristic}"
        return text if self.product is None else f"{text} [{self.product}]"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"asset": self.asset, "characteristic": self.characteristic, "product": self.product}


@dataclass(frozen=True, slots=True)
class LimitsRecord:
    """Frozen limits of one chart and where they came from.

    `center`/`sigma` are what the chart is built from (for p, np, c, u `center` is p̄, c̄ or
    ū and σ is None); `cl`/`lcl`/`ucl` are the location chart's centre line and limits they
    gave with the chart design at the time (None where they vary with the sample size).
    `first_ts`/`last_ts`/`samples`/`points` name the Phase I data (None for manual limits).
    """

    chart: str
    subgroup_size: int
    center: float
    sigma: float | None
    cl: float | None
    lcl: float | None
    ucl: float | None
    source: Literal["estimated", "manual"]
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    samples: int | None = None
    points: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def limits(self) -> Limits:
        """The `Limits` a chart is built from."""
        details = {k: float(v) for k, v in self.parameters.get("phase1", {}).items()}
        return Limits(center=self.center, sigma=self.sigma, source=self.source, details=details)

    def baseline(self) -> BaselineInfo | None:
        """The Phase I data as a `BaselineInfo` (None for manual limits)."""
        if self.source != "estimated" or self.samples is None or self.points is None:
            return None
        return BaselineInfo(self.first_ts, self.last_ts, self.samples, self.points,
                            int(self.parameters.get("excluded", 0)), int(self.parameters.get("iterations", 0)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"chart": self.chart, "subgroup_size": self.subgroup_size, "center": self.center, "sigma": self.sigma,
                "cl": self.cl, "lcl": self.lcl, "ucl": self.ucl, "source": self.source,
                "first_ts": _iso(self.first_ts), "last_ts": _iso(self.last_ts), "samples": self.samples,
                "points": self.points, "parameters": self.parameters}

    def _row(self) -> tuple[Any, ...]:
        return (self.chart, self.subgroup_size, self.center, self.sigma, self.cl, self.lcl, self.ucl, self.source,
                _iso(self.first_ts), _iso(self.last_ts), self.samples, self.points,
                json.dumps(self.parameters, sort_keys=True))

    @classmethod
    def _from_row(cls, row: tuple[Any, ...]) -> LimitsRecord:
        chart, n, center, sigma, cl, lcl, ucl, source, first, last, samples, points, params = row
        return cls(chart=chart, subgroup_size=int(n), center=float(center), sigma=_opt(sigma), cl=_opt(cl),
                   lcl=_opt(lcl), ucl=_opt(ucl), source=source, first_ts=_dt(first), last_ts=_dt(last),
                   samples=samples, points=points, parameters=json.loads(params) if params else {})


@dataclass(frozen=True, slots=True)
class StoredLimits:
    """The limits in force for one chart, with the change that put them there."""

    key: LimitsKey
    record: LimitsRecord
    revision: int
    action: Action
    at: datetime
    by: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {**self.key.as_dict(), "limits": self.record.as_dict(), "revision": self.revision,
                "action": self.action, "at": self.at.isoformat(), "by": self.by, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LimitsChange:
    """One entry of the audit trail: what was done to a chart's limits, when, by whom and why."""

    id: int
    key: LimitsKey
    action: Action
    at: datetime
    by: str
    reason: str
    record: LimitsRecord | None  # the limits after the change; None after a reset

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"id": self.id, **self.key.as_dict(), "action": self.action, "at": self.at.isoformat(),
                "by": self.by, "reason": self.reason,
                "limits": self.record.as_dict() if self.record is not None else None}


class LimitsStore:
    """The SPC limits file: `get`, `all`, `history`, `put`, `reset`, `revision`. Blocking, short calls.

    >>> import tempfile, pathlib
    >>> store = LimitsStore(pathlib.Path(tempfile.mkdtemp()) / "spc-limits.sqlite")
    >>> store.all(), store.revision()
    ([], 0)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"LimitsStore({str(self.path)!r})"

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection (None when only reading and the file does not exist yet: nothing stored)."""
        if not write and not self.path.exists():
            yield None
            return
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise SpcStoreError(f"cannot open the SPC limits file {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            if write:
                with transaction(db):
                    yield db
            else:
                yield db
        except sqlite3.Error as exc:
            raise SpcStoreError(f"SPC limits file {self.path}: {exc}") from None
        finally:
            db.close()

    _SELECT = ("SELECT h.asset, h.characteristic, h.product, h.id, h.action, h.at, h.by, h.reason, "
               + ", ".join(f"h.{c}" for c in _RECORD_COLUMNS)
               + " FROM limits l JOIN history h ON h.id = l.revision")

    def revision(self) -> int:
        """The id of the last change (0 when nothing was ever stored): cheap, for polling."""
        with self._connect(write=False) as db:
            if db is None:
                return 0
            return int(db.execute("SELECT coalesce(max(id), 0) FROM history").fetchone()[0])

    def get(self, key: LimitsKey) -> StoredLimits | None:
        """The limits in force for one chart, or None."""
        with self._connect(write=False) as db:
            if db is None:
                return None
            row = db.execute(self._SELECT + " WHERE l.asset = ? AND l.characteristic = ? AND l.product = ?",
                             (key.asset, key.characteristic, key.product or "")).fetchone()
        return _stored(row) if row is not None else None

    def all(self) -> list[StoredLimits]:
        """Every chart's limits in force, ordered by asset, characteristic, product."""
        with self._connect(write=False) as db:
            if db is None:
                return []
            rows = db.execute(self._SELECT + " ORDER BY l.asset, l.characteristic, l.product").fetchall()
        return [_stored(r) for r in rows]

    def history(self, key: LimitsKey | None = None) -> list[LimitsChange]:
        """The audit trail of one chart (or all), oldest first."""
        sql = ("SELECT id, asset, characteristic, product, action, at, by, reason, "
               + ", ".join(_RECORD_COLUMNS) + " FROM history")
        args: tuple[Any, ...] = ()
        if key is not None:
            sql += " WHERE asset = ? AND characteristic = ? AND product = ?"
            args = (key.asset, key.characteristic, key.product or "")
        with self._connect(write=False) as db:
            if db is None:
                return []
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        out = []
        for r in rows:
            record = LimitsRecord._from_row(tuple(r[8:])) if r[8] is not None else None
            out.append(LimitsChange(int(r[0]), LimitsKey(r[1], r[2], r[3] or None), r[4], _req_dt(r[5]), r[6], r[7],
                                    record))
        return out

    def put(self, key: LimitsKey, record: LimitsRecord, *, action: Action, by: str, reason: str,
            at: datetime | None = None) -> StoredLimits:
        """Put limits in force for a chart and record the change; returns what is now stored."""
        if action == "reset":
            raise ValueError("put() records estimated or set limits; use reset()")
        _check_who(by, reason)
        at = at or datetime.now(UTC)
        with self._connect(write=True) as db:
            if db is None:  # pragma: no cover - a write connection always exists
                raise SpcStoreError(f"SPC limits file {self.path} not opened")
            cur = db.execute(
                "INSERT INTO history (asset, characteristic, product, action, at, by, reason, "
                + ", ".join(_RECORD_COLUMNS) + ") VALUES (" + ", ".join("?" * (7 + len(_RECORD_COLUMNS))) + ")",
                (key.asset, key.characteristic, key.product or "", action, at.isoformat(), by, reason,
                 *record._row()))
            revision = int(cur.lastrowid or 0)
            db.execute("INSERT INTO limits (asset, characteristic, product, revision) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (asset, characteristic, product) DO UPDATE SET revision = excluded.revision",
                       (key.asset, key.characteristic, key.product or "", revision))
        return StoredLimits(key, record, revision, action, at, by, reason)

    def reset(self, key: LimitsKey, *, by: str, reason: str, at: datetime | None = None) -> LimitsChange | None:
        """Forget a chart's limits (a new Phase I on its next data); None when none were stored."""
        _check_who(by, reason)
        at = at or datetime.now(UTC)
        with self._connect(write=True) as db:
            if db is None:  # pragma: no cover
                raise SpcStoreError(f"SPC limits file {self.path} not opened")
            args = (key.asset, key.characteristic, key.product or "")
            if db.execute("DELETE FROM limits WHERE asset = ? AND characteristic = ? AND product = ?",
                          args).rowcount == 0:
                return None
            cur = db.execute("INSERT INTO history (asset, characteristic, product, action, at, by, reason) "
                             "VALUES (?, ?, ?, 'reset', ?, ?, ?)", (*args, at.isoformat(), by, reason))
        return LimitsChange(int(cur.lastrowid or 0), key, "reset", at, by, reason, None)


# -- building records -----------------------------------------------------------------------


def location_limits(config: CharacteristicSpc, limits: Limits) -> tuple[float | None, float | None, float | None]:
    """(CL, LCL, UCL) of the location chart these limits give with this design; None where they vary with n.

    EWMA: the asymptotic limits (the exact ones widen towards them); CUSUM: CL 0 and ±H.
    """
    n = config.subgroup_size if config.chart in ("xbar-r", "xbar-s", "np") else None
    chart = build_chart(config.chart_spec(), limits, subgroup_size=n)
    if isinstance(chart, IndividualsChart | XbarRChart | XbarSChart):
        return chart.mean, chart.lcl, chart.ucl
    if isinstance(chart, EwmaChart):
        half = chart.L * chart.sigma * math.sqrt(chart.lam / (2.0 - chart.lam))
        return chart.mean, chart.mean - half, chart.mean + half
    if isinstance(chart, CusumChart):
        return 0.0, -chart.decision_interval, chart.decision_interval
    # Attributes charts (Montgomery §7.2–7.3): np and c have constant limits, p and u vary with each n.
    L, c = config.chart_spec().width, limits.center
    if config.chart == "np" and n is not None:
        center, sd = n * c, math.sqrt(n * c * (1.0 - c))
    elif config.chart == "c":
        center, sd = c, math.sqrt(c)
    else:
        return c, None, None
    return center, max(0.0, center - L * sd), center + L * sd


def design(config: CharacteristicSpc) -> dict[str, Any]:
    """The chart design the limits are used with (recorded with them, for the audit)."""
    spec = config.chart_spec()
    out: dict[str, Any] = {"L": spec.width, "rules": list(spec.rules) if isinstance(spec.rules, tuple) else spec.rules,
                           "baseline_points": config.baseline_points}
    if config.chart == "ewma":
        out.update(lam=spec.lam, ewma_limits=spec.ewma_limits)
    if config.chart == "cusum":
        out.update(k=spec.k, h=spec.h, headstart=spec.headstart)
    return out


def make_record(config: CharacteristicSpc, limits: Limits, *, source: Literal["estimated", "manual"],
                baseline: BaselineInfo | None = None) -> LimitsRecord:
    """The record of limits put in force for a chart of this configuration (already merged for its product)."""
    cl, lcl, ucl = location_limits(config, limits)
    params = design(config)
    if limits.details:
        params["phase1"] = dict(limits.details)
    if baseline is not None:
        params.update(excluded=baseline.excluded, iterations=baseline.iterations)
    b = baseline
    return LimitsRecord(chart=config.chart, subgroup_size=config.subgroup_size, center=limits.center,
                        sigma=limits.sigma, cl=cl, lcl=lcl, ucl=ucl, source=source,
                        first_ts=b.first_ts if b else None, last_ts=b.last_ts if b else None,
                        samples=b.samples if b else None, points=b.points if b else None, parameters=params)


def compatible(record: LimitsRecord, config: CharacteristicSpc) -> bool:
    """True when stored limits can chart this configuration: same chart and subgroup size.

    The design parameters (L, rules, λ, k, h) may change: they are applied to the stored
    centre and σ, which describe the process, not the chart.
    """
    return record.chart == config.chart and record.subgroup_size == config.subgroup_size


def manual_limits(config: CharacteristicSpc, *, center: float | None = None, sigma: float | None = None,
                  cl: float | None = None, ucl: float | None = None, lcl: float | None = None,
                  current: LimitsRecord | None = None) -> Limits:
    """The limits a quality engineer gives, as centre and σ; SpcConfigError naming what is wrong.

    Either the estimate (`center`, and `sigma` for variables charts; one of them alone keeps
    the other from `current`) or the location chart's CL with UCL and LCL, which must be
    symmetric about it (the charts are): σ = (UCL − LCL)/(2L), times √n for X̄. For p, np,
    c, u the limits follow from the centre line alone: give `center` (p̄, c̄, ū) or `cl`
    (np: n·p̄).
    """
    chart = config.chart
    by_limits = any(v is not None for v in (cl, ucl, lcl))
    if by_limits and (center is not None or sigma is not None):
        raise SpcConfigError("give either --center/--sigma or --cl/--ucl/--lcl, not both")
    if not by_limits and center is None and sigma is None:
        raise SpcConfigError("give the limits: --center and --sigma, or --cl, --ucl and --lcl")
    for name, v in (("center", center), ("sigma", sigma), ("cl", cl), ("ucl", ucl), ("lcl", lcl)):
        if v is not None and not math.isfinite(v):
            raise SpcConfigError(f"--{name} must be a finite number, got {v!r}")
    attributes = chart in ATTRIBUTES_CHARTS
    if attributes:
        if sigma is not None:
            raise SpcConfigError(f"a {chart} chart has no sigma: its limits follow from the centre line (--center)")
        if ucl is not None or lcl is not None:
            raise SpcConfigError(f"the limits of a {chart} chart follow from its centre line: give --cl only")
        if cl is not None:
            center = cl / config.subgroup_size if chart == "np" else cl
        if center is None:
            raise SpcConfigError(f"give the centre line of the {chart} chart: --center or --cl")
        result = Limits(center=center, sigma=None, source="manual")
    elif by_limits:
        if cl is None or ucl is None or lcl is None:
            raise SpcConfigError("give all three of --cl, --ucl and --lcl")
        if chart not in ("imr", "xbar-r", "xbar-s"):
            raise SpcConfigError(f"the limits of a {chart} chart are not a fixed CL ± Lσ: give --center and --sigma")
        if not lcl < cl < ucl:
            raise SpcConfigError(f"need LCL < CL < UCL, got LCL {lcl:g}, CL {cl:g}, UCL {ucl:g}")
        if not math.isclose(ucl - cl, cl - lcl, rel_tol=1e-6):
            raise SpcConfigError(f"UCL and LCL must be symmetric about CL (UCL − CL = {ucl - cl:g}, "
                                 f"CL − LCL = {cl - lcl:g}); give --center and --sigma otherwise")
        sigma_stat = (ucl - lcl) / (2.0 * config.chart_spec().width)
        sigma_x = sigma_stat * math.sqrt(config.subgroup_size) if chart in ("xbar-r", "xbar-s") else sigma_stat
        result = Limits(center=cl, sigma=sigma_x, source="manual")
    else:
        if center is None or sigma is None:
            if current is None or current.sigma is None:
                raise SpcConfigError("no limits are stored to keep the other one from: give both --center and --sigma")
            center = current.center if center is None else center
            sigma = current.sigma if sigma is None else sigma
        if not sigma > 0:
            raise SpcConfigError(f"--sigma must be > 0, got {sigma:g}")
        result = Limits(center=center, sigma=sigma, source="manual")
    n = config.subgroup_size if chart in ("xbar-r", "xbar-s", "np") else None
    build_chart(config.chart_spec(), result, subgroup_size=n)  # SpcConfigError for e.g. p outside (0, 1)
    return result


def _check_who(by: str, reason: str) -> None:
    if not by.strip():
        raise SpcConfigError("a change of SPC limits needs the name of who makes it (--by)")
    if not reason.strip():
        raise SpcConfigError("a change of SPC limits needs a reason (--reason)")


def _stored(r: tuple[Any, ...]) -> StoredLimits:
    key = LimitsKey(r[0], r[1], r[2] or None)
    return StoredLimits(key, LimitsRecord._from_row(tuple(r[8:])), int(r[3]), r[4], _req_dt(r[5]), r[6], r[7])


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _req_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt(v: Any) -> float | None:
    return float(v) if v is not None else None
