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
"""

from __future__ import annotations

import logging
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
from twin.events import AlertEvent, EventState, Severity
from twin.influx import to_line
from twin.plant import Plant
from twin.readings import Quality, Reading, Value, format_ts
from twin.topics import AssetPath

log = logging.getLogger(__name__)

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

    def stream(self, product: str | None, window: int) -> _Stream:
        if product not in self.streams:
            name = f"{self.asset.asset}/{self.name}" + (f"[{product}]" if product is not None else "")
            self.streams[product] = _Stream(SpcEvaluator(self.config, product=product, name=name),
                                            self.config.for_product(product), deque(maxlen=window))
        return self.streams[product]


class SpcAnalytic:
    """Control charts for every characteristic the plant configures; see the module docstring.

    `capability_every`: chart points of one product between capability points;
    `capability_window`: the last measurements of that product they are computed over;
    `clear_after`: consecutive in-control chart points that clear a violation's alert.
    """

    name = "spc"

    def __init__(self, plant: Plant, *, capability_every: int = 25, capability_window: int = 125,
                 clear_after: int = 25) -> None:
        if capability_every < 1 or capability_window < 2 or clear_after < 1:
            raise ValueError("capability_every and clear_after must be ≥ 1, capability_window ≥ 2")
        self.capability_every = capability_every
        self.capability_window = capability_window
        self.clear_after = clear_after
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
        stream = char.stream(product, self.capability_window)
        try:
            point = stream.evaluator.update(value, ts)
        except SpcError as exc:
            if not char.refused:  # once per characteristic: the same cause repeats on every sample
                log.warning("SPC %s/%s: measurements not charted: %s", char.asset.asset, char.name, exc)
            char.refused += 1
            self.skipped += 1
            return
        stream.recent.append(value)
        if point is None:
            return
        stream.points += 1
        serial = self._serial.get(str(char.asset))
        out.lines.append(self._point_line(char, point, ts, serial[1] if serial and serial[0] == ts else None))
        self._events(char, product, point, ts, out)
        cfg = stream.config
        if (cfg.lsl is not None or cfg.usl is not None) and stream.points % self.capability_every == 0:
            self._capability(char, stream, ts, out)

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
              clear_after: int = 25) -> SpcAnalytic | None:
    """The SPC analytic for a plant, or None when no signal has an `spc:` section (options: `SpcAnalytic`)."""
    analytic = SpcAnalytic(plant, capability_every=capability_every, capability_window=capability_window,
                           clear_after=clear_after)
    return analytic if analytic.characteristics else None
