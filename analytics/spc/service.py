"""The SPC streaming service: gauge measurements in, chart points, capability and violation alerts out.

`SpcAnalytic` is an `analytics.runtime.Analytic` (no I/O): for every signal with an
`spc:` section in the plant file it keeps one `SpcEvaluator` per product (named by the
asset's `product_signal`; per-product limits come from `CharacteristicSpc.for_product`),
feeds it each good measurement in source-time order, and returns

- one `spc` point per chart point (docs/schema.md): the plotted statistic, centre line,
  limits, the companion dispersion chart (MR, R or S) and the rules that fired;
- a `capability` point every `capability_every` chart points of a product once spec
  limits exist, over that product's last `capability_window` measurements;
- an alert event per rule that fires (key `spc:{characteristic}:{chart}:{rule}`, e.g.
  `spc:bore_diameter_mm:xbar:nelson1`, so the alert manager keeps one alert per
  condition and counts its occurrences), and a `cleared` event for each open rule once
  `clear_after` consecutive chart points of the characteristic are in control.

Each batch is taken in source-time order; measurements at or before the last source time
charted for a characteristic are then ignored, so an at-least-once redelivery never enters
a chart twice. Measurements whose quality is not
good (bad or uncertain), or without a numeric value, are skipped and counted: a chart of
suspect readings signals the gauge, not the process.

Restarts. With a `LimitsStore` (analytics/spc/store.py) the limits a Phase I freezes are
stored with the data they came from, and a chart whose limits are stored charts against
them from its first measurement: a restart runs no new Phase I. The store is the
authority on limits: it is read at start and polled every `limits_check_s` while running,
so `twin spc limits set|reset` takes effect without a restart (set: a fresh chart against
the engineer's limits; reset: a new Phase I). The analytic is also
`analytics.runtime.Checkpointed`: the snapshot carries every chart's history (run-rule
counters, EWMA, CUSUM, partial subgroups, baselines being collected), the last source
times, open alerts and the capability windows, so a restarted service continues each
chart exactly where it stopped — unless the store's limits changed meanwhile, which win.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.runtime import Output
from analytics.spc.capability import capability
from analytics.spc.charts import CHART_RULES
from analytics.spc.config import CharacteristicSpc
from analytics.spc.errors import SpcError
from analytics.spc.evaluator import SpcEvaluator
from analytics.spc.plugin import characteristic
from analytics.spc.points import ChartPoint, Violation
from analytics.spc.rules import RULE_DESCRIPTIONS
from analytics.spc.store import LimitsKey, LimitsStore, SpcStoreError, StoredLimits, compatible, make_record
from analytics.state import SnapshotError, decode_snapshot, encode_snapshot, ts_in, ts_out
from twin.events import AlertEvent, EventState, Severity
from twin.influx import to_line
from twin.plant import Plant
from twin.readings import Quality, Reading, Value, format_ts
from twin.topics import AssetPath

log = logging.getLogger(__name__)

#: Version of `SpcAnalytic.snapshot()`'s state; a snapshot of another version starts fresh.
SNAPSHOT_VERSION = 1

# Rule 1 (a point beyond the 3σ limits) is the classic "stop and look" signal: the product
# may already be out of spec. The run and pattern rules say the process changed: warning.
# The EWMA and CUSUM decision rules are their charts' only signals and treated like rule 1.
CRITICAL_RULES = frozenset({"nelson1", "we1", "limits", "ewma_limits", "cusum_upper", "cusum_lower"})


@dataclass
class _Stream:
    """One chart: a characteristic of an asset for one product (None: no product signal)."""

    evaluator: SpcEvaluator
    config: CharacteristicSpc  # with the product's overrides applied
    recent: deque[float]
    points: int = 0
    revision: int | None = None  # the limits store's revision of the limits in force (None: not stored)
    # Measurements up to here belong to the Phase I baseline of the stored limits: after a
    # crash between storing them and the checkpoint, the redelivered baseline must not be charted.
    skip_until: datetime | None = None


@dataclass
class _Characteristic:
    """State of one charted characteristic of one asset, across its products."""

    asset: AssetPath
    name: str
    config: CharacteristicSpc
    machine: str | None = None  # the asset's `measures:` link: where an assignable cause is likely
    streams: dict[str | None, _Stream] = field(default_factory=dict)
    last_ts: datetime | None = None
    open_rules: dict[str, datetime] = field(default_factory=dict)
    in_control_run: int = 0
    refused: int = 0  # measurements the chart refused (e.g. a p chart without sample sizes)

    def key(self, product: str | None) -> LimitsKey:
        return LimitsKey(str(self.asset), self.name, product)

    def evaluator(self, product: str | None) -> SpcEvaluator:
        name = f"{self.asset.asset}/{self.name}" + (f"[{product}]" if product is not None else "")
        return SpcEvaluator(self.config, product=product, name=name)

    def new_stream(self, product: str | None, window: int) -> _Stream:
        return _Stream(self.evaluator(product), self.config.for_product(product), deque(maxlen=window))


class SpcAnalytic:
    """Control charts for every characteristic the plant configures; see the module docstring.

    `capability_every`: chart points of one product between capability points;
    `capability_window`: the last measurements of that product they are computed over;
    `clear_after`: consecutive in-control chart points that clear a violation's alert;
    `limits`: where frozen limits are kept (None: in memory only), `actor` names this
    service in their history, `limits_check_s` is how often (wall clock) the store is polled.
    """

    name = "spc"

    def __init__(self, plant: Plant, *, capability_every: int = 25, capability_window: int = 125,
                 clear_after: int = 25, limits: LimitsStore | None = None, actor: str = "spc service",
                 limits_check_s: float = 5.0) -> None:
        if capability_every < 1 or capability_window < 2 or clear_after < 1:
            raise ValueError("capability_every and clear_after must be ≥ 1, capability_window ≥ 2")
        self.plant = plant
        self.capability_every = capability_every
        self.capability_window = capability_window
        self.clear_after = clear_after
        self.limits = limits
        self.actor = actor
        self.limits_check_s = limits_check_s
        self._checked_at = -math.inf  # monotonic time of the last look at the limits store
        self._store_revision: int | None = None
        self._stored: dict[LimitsKey, StoredLimits] = {}
        self._store_failing = False
        self.skipped = 0  # measurements not charted: quality not good, no numeric value, or refused
        self.duplicates = 0  # measurements at or before the last source time charted (redeliveries)
        self._chars: dict[tuple[str, str], _Characteristic] = {}
        self._by_asset: dict[str, list[_Characteristic]] = {}
        self._product_signal: dict[str, str] = {}
        self._product: dict[str, tuple[datetime, str]] = {}  # asset → (source time, product)
        self._serial: dict[str, tuple[datetime, str]] = {}
        for path, asset in plant.assets():
            for name, signal in asset.signals.items():
                spc = characteristic(signal)
                if spc is not None:
                    char = _Characteristic(path, name, spc, machine=asset.measures)
                    self._chars[(str(path), name)] = char
                    self._by_asset.setdefault(str(path), []).append(char)
            if asset.product_signal is not None and str(path) in self._by_asset:
                self._product_signal[str(path)] = asset.product_signal

    @property
    def characteristics(self) -> list[str]:
        """'asset/characteristic' for every charted signal."""
        return [f"{c.asset.asset}/{c.name}" for c in self._chars.values()]

    def wants(self, reading: Reading) -> bool:
        """Readings of assets with charted characteristics: measurements, serials and products."""
        return str(reading.asset) in self._by_asset

    def process(self, readings: Sequence[Reading]) -> Output:
        """Chart every new measurement; return points, capability and alert events."""
        out = Output()
        self._sync_limits()
        # Source-time order within the batch, and at equal times the product and serial first:
        # a gauge's message about one part carries its product, serial and measurements at one
        # time, in whatever order the edge agent listed them.
        for r in sorted(readings, key=lambda r: (r.ts, r.signal != "serial"
                                                 and r.signal != self._product_signal.get(str(r.asset)))):
            asset = str(r.asset)
            if r.signal == self._product_signal.get(asset):
                self._set_product(asset, r)
                continue
            if r.signal == "serial":
                if r.value is not None and r.ts >= self._serial.get(asset, (r.ts, ""))[0]:
                    self._serial[asset] = (r.ts, str(r.value))
                continue
            char = self._chars.get((asset, r.signal))
            if char is None:
                continue
            value = r.number
            if value is None:
                self.skipped += 1
                continue
            if char.last_ts is not None and r.ts <= char.last_ts:
                self.duplicates += 1  # a redelivery or an out-of-order sample: charted once only
                continue
            char.last_ts = r.ts
            self._update(char, value, r.ts, out)
        return out

    def _set_product(self, asset: str, r: Reading) -> None:
        product = _product_name(r.value)
        if product is None or r.quality is not Quality.GOOD:
            return
        last = self._product.get(asset)
        if last is not None and r.ts <= last[0]:
            return  # a redelivered product reading must not switch back to an old product
        previous = last[1] if last is not None else None
        self._product[asset] = (r.ts, product)
        if product == previous:
            return
        # A changeover ends the previous product's partial subgroup: its parts must not be
        # grouped with parts of that product's next run (rational subgroups, Montgomery §5.3.4).
        for char in self._by_asset.get(asset, []):
            stream = char.streams.get(previous)
            if stream is not None and (dropped := stream.evaluator.discard_pending()):
                log.info("SPC %s/%s: product %s → %s, dropped a partial subgroup of %d", char.asset.asset,
                         char.name, previous, product, dropped)

    def _update(self, char: _Characteristic, value: float, ts: datetime, out: Output) -> None:
        current = self._product.get(str(char.asset))
        product = current[1] if current is not None else None
        stream = self._stream(char, product)
        if stream.skip_until is not None:
            if ts <= stream.skip_until:
                stream.recent.append(value)  # part of the stored limits' baseline: not charted, but measured
                return
            stream.skip_until = None
        baseline = stream.evaluator.phase == "baseline"
        try:
            point = stream.evaluator.update(value, ts)
        except SpcError as exc:
            if not char.refused:  # once per characteristic: the same cause repeats on every sample
                log.warning("SPC %s/%s: measurements not charted: %s", char.asset.asset, char.name, exc)
            char.refused += 1
            self.skipped += 1
            return
        stream.recent.append(value)
        if baseline and stream.evaluator.phase == "monitoring":
            self._store_estimate(char, product, stream)
        if point is None:
            return
        stream.points += 1
        serial = self._serial.get(str(char.asset))
        out.lines.append(self._point_line(char, point, ts, serial[1] if serial and serial[0] == ts else None))
        self._events(char, product, point, ts, out)
        cfg = stream.config
        if (cfg.lsl is not None or cfg.usl is not None) and stream.points % self.capability_every == 0:
            self._capability(char, stream, ts, out)

    # -- the limits store ----------------------------------------------------------------------

    def _stream(self, char: _Characteristic, product: str | None) -> _Stream:
        """The chart of this product, made on first use: against the stored limits if there are."""
        stream = char.streams.get(product)
        if stream is None:
            stream = char.streams[product] = char.new_stream(product, self.capability_window)
            stored = self._stored.get(char.key(product))
            if stored is not None:
                self._apply(char, product, stream, stored)
        return stream

    def _sync_limits(self, *, force: bool = False) -> None:
        """Look at the limits store (every `limits_check_s`) and put changed limits in force."""
        if self.limits is None:
            return
        now = time.monotonic()
        if not force and now - self._checked_at < self.limits_check_s:
            return
        self._checked_at = now
        try:
            revision = self.limits.revision()
            if revision == self._store_revision and not force:
                return
            stored = {s.key: s for s in self.limits.all()}
        except SpcStoreError as exc:
            if not self._store_failing:
                log.error("SPC: cannot read the limits store, charting with the limits in memory: %s", exc)
            self._store_failing = True
            return
        if self._store_failing:
            log.info("SPC: the limits store %s is readable again", self.limits.path)
        self._store_failing = False
        self._store_revision, self._stored = revision, stored
        for char in self._chars.values():
            for product, stream in list(char.streams.items()):
                self._apply(char, product, stream, stored.get(char.key(product)))

    def _apply(self, char: _Characteristic, product: str | None, stream: _Stream, stored: StoredLimits | None) -> None:
        """Bring one chart in line with the store: its limits, a reset, or nothing to do."""
        ev = stream.evaluator
        if ev.known:
            return  # the plant file gives the limits; the CLI refuses to store any for it
        label = char.key(product).label
        if stored is None:
            if stream.revision is not None:
                log.info("SPC %s: limits reset in the store; a new Phase I on the next %d chart points", label,
                         stream.config.baseline_points)
                stream.evaluator = char.evaluator(product)
                stream.revision, stream.skip_until = None, None
            return
        if stored.revision == stream.revision:
            return
        stream.revision = stored.revision
        rec = stored.record
        if not compatible(rec, stream.config):
            log.warning("SPC %s: stored limits (revision %d) are for a %s chart of n=%d, the plant file now has %s "
                        "n=%d; not used (a new Phase I replaces them)", label, stored.revision, rec.chart,
                        rec.subgroup_size, stream.config.chart, stream.config.subgroup_size)
            return
        limits = rec.limits()
        current = ev.limits
        if current is not None and (current.center, current.sigma) == (limits.center, limits.sigma):
            return  # already charting against these (e.g. our own estimate)
        try:
            ev.use_limits(limits, baseline=rec.baseline())
        except SpcError as exc:
            log.warning("SPC %s: stored limits (revision %d) not usable: %s", label, stored.revision, exc)
            return
        stream.skip_until = rec.last_ts if rec.source == "estimated" else None
        log.info("SPC %s: charting against the stored limits (revision %d, %s by %s at %s): centre %.6g, sigma %s",
                 label, stored.revision, stored.action, stored.by, stored.at.isoformat(timespec="seconds"),
                 limits.center, limits.sigma)

    def _store_estimate(self, char: _Characteristic, product: str | None, stream: _Stream) -> None:
        """Record the limits a Phase I just froze, and the data they came from."""
        ev = stream.evaluator
        limits, info = ev.limits, ev.baseline_info
        if self.limits is None or limits is None or info is None:
            return
        key = char.key(product)
        reason = (f"Phase I on {info.points} chart points ({info.samples} measurements, "
                  f"{format_ts(info.first_ts) if info.first_ts else '?'} to "
                  f"{format_ts(info.last_ts) if info.last_ts else '?'}); "
                  f"{info.excluded} dropped beyond the trial limits in {info.iterations} iteration(s)")
        try:
            stored = self.limits.put(key, make_record(stream.config, limits, source="estimated", baseline=info),
                                     action="estimated", by=self.actor, reason=reason)
        except SpcError as exc:
            log.error("SPC %s: estimated limits not stored (a restart would run Phase I again): %s", key.label, exc)
            return
        stream.revision = stored.revision
        self._stored[key] = stored

    # -- checkpoints -----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Every chart's state, the last source times, products, serials and open alerts (`Checkpointed`)."""
        chars = []
        for (asset, name), c in self._chars.items():
            chars.append({
                "asset": asset, "name": name, "config": c.config.model_dump(mode="json"),
                "last_ts": ts_out(c.last_ts), "open_rules": [[k, ts_out(t)] for k, t in c.open_rules.items()],
                "in_control_run": c.in_control_run, "refused": c.refused,
                "streams": [{"product": product, "points": st.points, "recent": list(st.recent),
                             "revision": st.revision, "skip_until": ts_out(st.skip_until),
                             "evaluator": st.evaluator.dump_state()} for product, st in c.streams.items()],
            })
        state = {"chars": chars, "product": [[a, ts_out(t), p] for a, (t, p) in self._product.items()],
                 "serial": [[a, ts_out(t), v] for a, (t, v) in self._serial.items()],
                 "skipped": self.skipped, "duplicates": self.duplicates}
        return encode_snapshot(self.name, SNAPSHOT_VERSION, state)

    def restore(self, data: bytes) -> None:
        """Continue from `snapshot()`; charts whose configuration changed start afresh (`Checkpointed`)."""
        state = decode_snapshot(data, self.name, SNAPSHOT_VERSION)
        fresh = SpcAnalytic(self.plant, capability_every=self.capability_every,
                            capability_window=self.capability_window, clear_after=self.clear_after,
                            limits=self.limits, actor=self.actor, limits_check_s=self.limits_check_s)
        try:
            fresh._load(state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"SPC snapshot does not fit: {type(exc).__name__}: {exc}") from None
        self._chars, self._by_asset = fresh._chars, fresh._by_asset
        self._product, self._serial = fresh._product, fresh._serial
        self.skipped, self.duplicates = fresh.skipped, fresh.duplicates
        self._sync_limits(force=True)

    def _load(self, state: dict[str, Any]) -> None:
        for c in state["chars"]:
            char = self._chars.get((c["asset"], c["name"]))
            if char is None:
                log.info("SPC: %s/%s is no longer charted; its saved state is dropped", c["asset"], c["name"])
                continue
            # Redeliveries stay ignored whatever the plant file now says.
            char.last_ts = ts_in(c["last_ts"])
            if c["config"] != char.config.model_dump(mode="json"):
                log.warning("SPC %s/%s: its spc: section changed since the checkpoint; its charts start afresh",
                            char.asset.asset, char.name)
                continue
            char.open_rules = {str(k): _ts(t) for k, t in c["open_rules"]}
            char.in_control_run, char.refused = int(c["in_control_run"]), int(c["refused"])
            for st in c["streams"]:
                product = st["product"]
                stream = char.new_stream(product, self.capability_window)
                stream.evaluator.load_state(st["evaluator"])
                stream.points = int(st["points"])
                stream.recent.extend(float(v) for v in st["recent"])
                stream.revision = None if st["revision"] is None else int(st["revision"])
                stream.skip_until = ts_in(st["skip_until"])
                char.streams[product] = stream
        self._product = {a: (_ts(t), str(p)) for a, t, p in state["product"]}
        self._serial = {a: (_ts(t), str(v)) for a, t, v in state["serial"]}
        self.skipped, self.duplicates = int(state["skipped"]), int(state["duplicates"])

    def _tags(self, char: _Characteristic, **extra: str) -> dict[str, str]:
        a = char.asset
        return {"site": a.site, "area": a.area, "line": a.line, "asset": a.asset, "characteristic": char.name,
                **extra}

    def _point_line(self, char: _Characteristic, p: ChartPoint, ts: datetime, serial: str | None) -> str:
        # Rules of the companion chart are prefixed with it ("mr:we1", "r:nelson1"): an R-chart
        # signal says the spread changed, not the level, and must not read as an X̄ violation.
        rules = sorted({v.rule for v in p.violations})
        if p.dispersion is not None:
            rules += sorted({f"{v.chart}:{v.rule}" for v in p.dispersion.violations})
        fields: dict[str, Any] = {
            "value": float(p.statistic), "cl": float(p.center),
            "ucl": _f(p.ucl), "lcl": _f(p.lcl), "n": float(p.size),
            "violation": ",".join(rules), "violations": float(len(rules)), "serial": serial,
        }
        if p.statistic_lower is not None:
            fields["value_lower"] = float(p.statistic_lower)
        if p.dispersion is not None:
            d = p.dispersion
            fields.update(range_value=float(d.statistic), range_cl=float(d.center), range_ucl=_f(d.ucl),
                          range_lcl=_f(d.lcl))
        # A subgroup's point carries its last sample's time; `ts` is the sample that completed it.
        return to_line("spc", self._tags(char, chart=char.config.chart), fields, p.timestamp or ts)

    def _events(self, char: _Characteristic, product: str | None, p: ChartPoint, ts: datetime,
                out: Output) -> None:
        # A rule on the dispersion chart (MR, R, S) is its own condition: key and message name that chart.
        fired = [(p, v) for v in p.violations]
        if p.dispersion is not None:
            fired += [(p.dispersion, v) for v in p.dispersion.violations]
        for point, v in fired:
            key = f"spc:{char.name}:{v.chart}:{v.rule}"
            char.open_rules.setdefault(key, ts)
            details: dict[str, Any] = {
                "characteristic": char.name, "chart": v.chart, "rule": v.rule, "value": point.statistic,
                "cl": point.center, "ucl": point.ucl, "lcl": point.lcl,
                "points": [t.isoformat() for t in v.timestamps if t is not None]}
            if product is not None:
                details["product"] = product
            if char.machine is not None:
                details["machine"] = char.machine
            out.events.append(AlertEvent(
                asset=char.asset, source="spc", kind=v.rule,
                severity=Severity.CRITICAL if v.rule in CRITICAL_RULES else Severity.WARNING,
                state=EventState.FIRING, key=key, message=_message(char, product, v, point), ts=ts, details=details,
            ))
        if fired:
            char.in_control_run = 0
            return
        char.in_control_run += 1
        if char.open_rules and char.in_control_run >= self.clear_after:
            for key in sorted(char.open_rules):
                out.events.append(AlertEvent(
                    asset=char.asset, source="spc", kind=key.rsplit(":", 1)[-1], severity=Severity.INFO,
                    state=EventState.CLEARED, key=key,
                    message=f"{char.asset.asset} {char.name}: back in control for {char.in_control_run} points",
                    ts=ts, details={"characteristic": char.name, "since": char.open_rules[key].isoformat()}))
            char.open_rules.clear()

    def _capability(self, char: _Characteristic, stream: _Stream, ts: datetime, out: Output) -> None:
        cfg, limits = stream.config, stream.evaluator.limits
        try:
            cap = capability(list(stream.recent), lsl=cfg.lsl, usl=cfg.usl, target=cfg.target,
                             sigma_within=limits.sigma if limits is not None else None,
                             in_control=not char.open_rules)
        except SpcError as exc:
            log.info("SPC %s/%s: no capability yet: %s", char.asset.asset, char.name, exc)
            return
        fields: dict[str, Any] = {
            "cp": _est(cap.cp), "cpk": _est(cap.cpk), "pp": _est(cap.pp), "ppk": _est(cap.ppk), "cpm": _est(cap.cpm),
            "cpk_low": _f(cap.cpk.lower) if cap.cpk else None, "cpk_high": _f(cap.cpk.upper) if cap.cpk else None,
            "n": float(cap.n), "mean": float(cap.mean), "sigma_within": float(cap.sigma_within),
            "sigma_overall": float(cap.sigma_overall),
            "normality_p": _f(cap.normality.p_value) if cap.normality else None,
            "lsl": _f(cap.lsl), "usl": _f(cap.usl),
        }
        out.lines.append(to_line("capability", self._tags(char), fields, ts))


def _ts(text: Any) -> datetime:
    ts = ts_in(text)
    if ts is None:
        raise SnapshotError("a time is missing")
    return ts


def _product_name(value: Value) -> str | None:
    """A product or recipe id as text: numeric recipe numbers too (7.0 → '7'); None for no value."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _f(x: float | None) -> float | None:
    return float(x) if x is not None else None


def _est(e: Any) -> float | None:
    return float(e.value) if e is not None else None


def _message(char: _Characteristic, product: str | None, v: Violation, p: ChartPoint) -> str:
    what = RULE_DESCRIPTIONS.get(v.rule) or CHART_RULES.get(v.rule) or v.description
    of = f" [{product}]" if product is not None else ""
    stamps = [t for t in v.timestamps if t is not None]
    n = len(v.indices)
    if len(stamps) > 1:
        which = f"{n} points, {format_ts(stamps[0])} to {format_ts(stamps[-1])}"
    elif stamps:
        which = f"point at {format_ts(stamps[0])}" if n == 1 else f"{n} points to {format_ts(stamps[0])}"
    else:
        which = f"{n} point{'s' if n != 1 else ''}"
    return (f"{char.asset.asset} {char.name}{of}: {what} ({v.rule} on the {v.chart} chart; {which}; "
            f"last {p.statistic:.6g}, CL {p.center:.6g}, UCL {_fmt(p.ucl)}, LCL {_fmt(p.lcl)})")


def _fmt(x: float | None) -> str:
    return f"{x:.6g}" if x is not None else "none"


def build_spc(plant: Plant, *, capability_every: int = 25, capability_window: int = 125,
              clear_after: int = 25, limits: LimitsStore | None = None, actor: str = "spc service",
              limits_check_s: float = 5.0) -> SpcAnalytic | None:
    """The SPC analytic for a plant, or None when no signal has an `spc:` section (options: `SpcAnalytic`)."""
    analytic = SpcAnalytic(plant, capability_every=capability_every, capability_window=capability_window,
                           clear_after=clear_after, limits=limits, actor=actor, limits_check_s=limits_check_s)
    return analytic if analytic.characteristics else None
