"""The energy streaming service: meter telemetry in, hourly/daily `energy` points and alert events out.

`EnergyAnalytic` is an `analytics.runtime.Analytic` (pure, no I/O). For every meter of the
plant's `energy:` section it keeps an `AssetEnergyTracker` and feeds it the meter signal
(a kWh counter or kW). Attribution (see `analytics/energy/config.py`):

- the energy belongs to the **machine** the meter asset's `meters:` link names (a meter
  without a link is its own machine, e.g. a main feeder); tags site/area/line/asset are
  the machine's place in the plant;
- machine state: the machine's `state` signal; an interval between two meter readings has
  the state in force at its start, by source time (idle energy = energy while the state
  is idle/standby/stopped/blocked/starved);
- good parts: if a gauge `measures:` the machine, a part is one gauge document (the
  readings with one source timestamp) and it is **good when every characteristic with
  spec limits (`spc: lsl/usl`, per product when the gauge names one) is measured, of
  good quality and inside [lsl, usl]**; otherwise every increment of the machine's
  `part_count` counter is a good part (no gauge, no quality information); with neither,
  no parts (kWh per good part is then left out). A part is counted at the first meter
  reading at or after its timestamp; readings of a part that arrive after it was counted
  are ignored.

Output (docs/schema.md): measurement `energy`, tags site, area, line, asset, period
(`hour`, `day`, plus `product` when known), float fields energy_kwh, cost_cny, co2e_kg,
idle_kwh, good_parts, kwh_per_good_part (only with parts), expected_kwh and deviation_pct
(only with a baseline), gap (1.0 when the period holds a data gap). Time is the period's
start. A closed period is written once; the open hour and day are written again after
every batch that changed them, with their whole content so far — same time and tags, so
InfluxDB overwrites the point and Grafana sees today's energy grow without counting
anything twice.

Alert events (source `energy`, on the machine's or sensor's `alerts` topic), each a
firing event when the condition starts and a cleared event when it ends:

- `energy:idle_waste` — idle but drawing more than `standby_threshold_kw` for
  `waste_min_duration_s`;
- `energy:air_leak` — a compressor's meter (`air_leak_loaded_kw`) loaded while no other
  machine of the plant is running, for `air_leak_min_duration_s`; undecidable (so not
  raised) until some machine state has been seen;
- `energy:baseline_deviation` — a complete hour more than `deviation_limit_pct` above or
  below the baseline's expectation; cleared by the next hour within the limit;
- `energy:env:{signal}:high|low` — an environment limit crossed; cleared once back
  inside by the deadband (hysteresis).

Restarts (`analytics.runtime.Checkpointed`): the snapshot holds each meter's last reading,
its open hour and day buckets (exact partial sums), waste and air-leak episodes, baseline
fit and parts not yet counted, the machine states, the gauges' part in progress, part
counters and the environment limits' hysteresis. A restarted service takes the next
interval from the last counter reading before the crash — no gap, nothing counted twice —
and every input is idempotent by source time per signal (meter and part counters: not
after their last reading; gauges: not at or before the last part counted; products: not
before the last product reading; environment signals: not after their last reading;
machine states: a change at a time already known replaces itself), so a batch
redelivered after the checkpoint changes nothing. A meter whose configuration (or the
plant's time zone) changed starts afresh.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.energy.baseline import fit_baseline
from analytics.energy.carbon import FactorTable
from analytics.energy.config import EXAMPLE_TARIFF_PATH, BaselineConfig, EnergyConfig, MeterConfig, load_tariff
from analytics.energy.environment import EnvironmentMonitor
from analytics.energy.kpis import AirLeakDetector, Finding
from analytics.energy.plugin import energy_config
from analytics.energy.rollups import AssetRef, Pricing, RollupRecord
from analytics.energy.stream import AssetEnergyTracker
from analytics.runtime import Output
from analytics.spc.config import CharacteristicSpc
from analytics.spc.plugin import characteristic
from analytics.state import SnapshotError, decode_snapshot, encode_snapshot, ts_in, ts_out, ts_req
from twin.events import AlertEvent, EventState, Severity
from twin.influx import to_line
from twin.plant import Plant
from twin.readings import Reading
from twin.topics import AssetPath

log = logging.getLogger(__name__)

SOURCE = "energy"
#: Machine states that mean "producing" for the compressed-air leak check (the simulator's
#: `running`, PackML's `execute`).
PRODUCING_STATES = frozenset({"running", "execute", "producing"})
#: An hour counts as complete for the baseline fit when this much of it was metered.
COMPLETE_FRACTION = 0.99
#: Version of `EnergyAnalytic.snapshot()`'s state; a snapshot of another version starts fresh.
SNAPSHOT_VERSION = 1


@dataclass
class _Gauge:
    """A gauge measuring a machine's parts: which characteristics decide a good part."""

    path: AssetPath
    machine: str
    limits: dict[str, CharacteristicSpc]
    product_signal: str | None
    product: str | None = None
    product_ts: datetime | None = None  # source time of the product reading in force
    pending: tuple[datetime, bool] | None = None  # the part being read: (timestamp, good so far)
    done_ts: datetime | None = None  # timestamp of the last part counted

    def judge(self, r: Reading) -> None:
        """One characteristic of the pending part: a missing, bad or out-of-spec value makes it not good."""
        if self.pending is None:
            raise RuntimeError(f"gauge of {self.machine}: a characteristic judged with no part being read")
        spec = self.limits.get(r.signal)
        if spec is None:
            return
        spec = spec.for_product(self.product)
        value = r.number
        ok = (value is not None and (spec.lsl is None or value >= spec.lsl)
              and (spec.usl is None or value <= spec.usl))
        if not ok:
            self.pending = (self.pending[0], False)


@dataclass
class _BaselineState:
    """The baseline of one machine: configured, or fitted over its first complete hours and then frozen."""

    config: BaselineConfig
    intercept_kwh_per_h: float | None = None
    kwh_per_good_part: float | None = None
    reference: list[tuple[float, float]] = field(default_factory=list)
    firing: bool = False

    def __post_init__(self) -> None:
        self.intercept_kwh_per_h = self.config.intercept_kwh_per_h
        self.kwh_per_good_part = self.config.kwh_per_good_part

    @property
    def ready(self) -> bool:
        return self.intercept_kwh_per_h is not None and self.kwh_per_good_part is not None

    def expected_kwh(self, r: RollupRecord) -> float | None:
        """E = b0 · metered hours + b1 · good parts (the hourly model summed over the period)."""
        if self.intercept_kwh_per_h is None or self.kwh_per_good_part is None:
            return None
        return self.intercept_kwh_per_h * r.covered_s / 3600.0 + self.kwh_per_good_part * r.good_parts

    def learn(self, r: RollupRecord, machine: str) -> None:
        """Use a closed, complete, gap-free hour as a reference point until the model is fitted."""
        if self.ready or r.period != "hour" or r.gap or r.covered_s < COMPLETE_FRACTION * 3600.0:
            return
        self.reference.append((r.energy_kwh, r.good_parts))
        if len(self.reference) < self.config.reference_hours:
            return
        energy = [e for e, _ in self.reference]
        parts = [p for _, p in self.reference]
        if max(parts) == min(parts):
            # Production did not vary over the reference: the slope is not identifiable, so the
            # expectation is the mean hourly energy (a constant-load baseline).
            self.intercept_kwh_per_h, self.kwh_per_good_part = math.fsum(energy) / len(energy), 0.0
        else:
            model = fit_baseline(energy, {"good_parts": parts})
            self.intercept_kwh_per_h, self.kwh_per_good_part = model.intercept_kwh, model.coefficients[0]
        log.info("energy baseline of %s fitted over %d hours: %.4f kWh/h + %.5f kWh/good part",
                 machine, len(energy), self.intercept_kwh_per_h, self.kwh_per_good_part)


@dataclass
class _Meter:
    """One configured meter: its tracker, the machine it is charged to and that machine's part sources."""

    config: MeterConfig
    path: AssetPath
    machine: AssetPath
    tracker: AssetEnergyTracker
    gauges: list[_Gauge]
    has_part_count: bool
    air_leak: AirLeakDetector | None
    baseline: _BaselineState | None
    pending_parts: float = 0.0
    changed: bool = False


class EnergyAnalytic:
    """Energy, cost, carbon and waste per machine from the plant's meters; see the module docstring."""

    name = "energy"

    def __init__(self, plant: Plant, *, factors: FactorTable | None = None, live: bool = True) -> None:
        config = energy_config(plant)
        if config is None:
            raise ValueError("the plant has no energy: section")
        self.config: EnergyConfig = config
        self.plant = plant
        self.factors = factors
        self.live = live
        table = (factors or FactorTable.load()).with_overrides(config.overrides())
        if config.tariff is not None:
            tariff = config.tariff.to_tariff()
        else:
            tariff = load_tariff(EXAMPLE_TARIFF_PATH)
            log.warning("energy: the plant configures no tariff; costs use the illustrative example tariff %r",
                        tariff.name)
        pricing = Pricing(tariff, table.get(config.location_factor).kg_per_kwh)
        paths = {p.asset: (p, a) for p, a in plant.assets()}
        signals = {k: set(a.signals) for k, (_, a) in paths.items()}
        config.check_references(signals, {k: a.meters for k, (_, a) in paths.items()})

        self._meters: dict[tuple[str, str], _Meter] = {}
        self._gauges: dict[str, _Gauge] = {}
        self._part_counters: dict[str, _Meter] = {}
        self._states: dict[str, str] = {}  # machine id -> latest state (by source time)
        self._state_hist: dict[str, list[tuple[datetime, str]]] = {}  # machine id -> state changes, time order
        self._parts_last: dict[str, tuple[datetime, float]] = {}
        self._compressors: set[str] = set()
        for m in config.meters:
            meter_path, meter_asset = paths[m.asset]
            machine_path, machine_asset = paths[meter_asset.meters] if meter_asset.meters else paths[m.asset]
            gauges = [
                _Gauge(p, machine_path.asset,
                       {n: c for n, s in a.signals.items() if (c := characteristic(s)) is not None
                        and (c.lsl is not None or c.usl is not None or c.products)},
                       a.product_signal)
                for p, a in paths.values() if a.measures == machine_path.asset]
            ref = AssetRef(asset=machine_path.asset, line=machine_path.line, area=machine_path.area,
                           site=machine_path.site)
            tracker = AssetEnergyTracker(ref=ref, kind=m.kind, pricing=pricing, settings=m.to_settings(),
                                         timezone=config.timezone, standby_threshold_kw=m.standby_threshold_kw,
                                         waste_min_duration_s=m.waste_min_duration_s)
            air_leak = (AirLeakDetector(asset=machine_path.asset, loaded_threshold_kw=m.air_leak_loaded_kw,
                                        min_duration_s=m.air_leak_min_duration_s)
                        if m.air_leak_loaded_kw is not None else None)
            if air_leak is not None:
                self._compressors.add(machine_path.asset)
            meter = _Meter(m, meter_path, machine_path, tracker, gauges, "part_count" in machine_asset.signals,
                           air_leak, _BaselineState(m.baseline) if m.baseline is not None else None)
            self._meters[(str(meter_path), m.signal)] = meter
            for g in gauges:
                self._gauges[str(g.path)] = g
            if not gauges and meter.has_part_count:
                self._part_counters[str(machine_path)] = meter
        self._by_machine = {m.machine.asset: m for m in self._meters.values()}
        self._environment = EnvironmentMonitor(
            config.environment, {p.asset: p for p, _ in paths.values()})
        # Every state signal is read: the air-leak check needs to know whether anything runs.
        self._state_assets = {str(p) for p, a in paths.values() if "state" in a.signals}

    @property
    def meters(self) -> list[str]:
        """'meter → machine' for every configured meter."""
        return [f"{m.path.asset} → {m.machine.asset}" for m in self._meters.values()]

    def wants(self, reading: Reading) -> bool:
        """Meter signals, machine states and part counts, gauge measurements, environment signals."""
        asset = str(reading.asset)
        return ((asset, reading.signal) in self._meters
                or (reading.signal == "state" and asset in self._state_assets)
                or (reading.signal == "part_count" and asset in self._part_counters)
                or asset in self._gauges
                or self._environment.watches(reading))

    def process(self, readings: Sequence[Reading]) -> Output:
        """Update every tracker with the readings (arrival order); return points and alert events."""
        out = Output()
        for r in readings:
            asset = str(r.asset)
            meter = self._meters.get((asset, r.signal))
            if meter is not None:
                self._meter_reading(meter, r, out)
            elif r.signal == "state" and asset in self._state_assets:
                if isinstance(r.value, str):
                    self._state_change(r.asset.asset, r.ts, r.value)
            elif asset in self._gauges:
                self._gauge_reading(self._gauges[asset], r)
            elif r.signal == "part_count" and asset in self._part_counters:
                self._part_count(self._part_counters[asset], r)
            if self._environment.watches(r):
                out.events.extend(self._environment.update(r))
        if self.live:
            for meter in self._meters.values():
                if meter.changed:
                    out.lines.extend(self._line(meter, rec) for rec in meter.tracker.snapshot())
                    meter.changed = False
        return out

    def flush(self) -> list[str]:
        """Lines for every open period (on shutdown when `live` is off); the trackers forget them."""
        return [self._line(m, rec) for m in self._meters.values() for rec in m.tracker.flush()]

    # -- checkpoints ----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Every meter's integration and rollups, episodes, baselines, states, parts, limits (`Checkpointed`)."""
        meters = []
        for (path, signal), m in self._meters.items():
            b = m.baseline
            meters.append({
                "meter": path, "signal": signal, "config": self._meter_fingerprint(m),
                "tracker": m.tracker.dump_state(), "pending_parts": m.pending_parts, "changed": m.changed,
                "baseline": None if b is None else {"intercept": b.intercept_kwh_per_h, "slope": b.kwh_per_good_part,
                                                    "reference": b.reference, "firing": b.firing},
                "air_leak": m.air_leak.episodes.dump_state() if m.air_leak is not None else None,
            })
        gauges = [{"gauge": path, "product": g.product, "product_ts": ts_out(g.product_ts),
                   "pending": [ts_out(g.pending[0]), g.pending[1]] if g.pending is not None else None,
                   "done_ts": ts_out(g.done_ts)} for path, g in self._gauges.items()]
        state = {"meters": meters, "gauges": gauges, "states": self._states,
                 "state_hist": {k: [[ts_out(t), s] for t, s in h] for k, h in self._state_hist.items()},
                 "parts_last": {k: [ts_out(t), v] for k, (t, v) in self._parts_last.items()},
                 "environment": self._environment.dump_state()}
        return encode_snapshot(self.name, SNAPSHOT_VERSION, state)

    def restore(self, data: bytes) -> None:
        """Continue from `snapshot()`; meters whose configuration changed start afresh (`Checkpointed`)."""
        state = decode_snapshot(data, self.name, SNAPSHOT_VERSION)
        fresh = EnergyAnalytic(self.plant, factors=self.factors, live=self.live)
        try:
            fresh._load(state)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise SnapshotError(f"energy snapshot does not fit: {type(exc).__name__}: {exc}") from None
        self._meters, self._gauges, self._part_counters = fresh._meters, fresh._gauges, fresh._part_counters
        self._by_machine, self._environment = fresh._by_machine, fresh._environment
        self._states, self._state_hist, self._parts_last = fresh._states, fresh._state_hist, fresh._parts_last

    def _meter_fingerprint(self, m: _Meter) -> dict[str, Any]:
        # The day buckets are local days: a new time zone cuts them elsewhere.
        return {"meter": m.config.model_dump(mode="json"), "timezone": self.config.timezone,
                "machine": str(m.machine)}

    def _load(self, state: dict[str, Any]) -> None:
        for s in state["meters"]:
            m = self._meters.get((s["meter"], s["signal"]))
            if m is None:
                log.info("energy: meter %s %s is no longer configured; its saved state is dropped", s["meter"],
                         s["signal"])
                continue
            if s["config"] != self._meter_fingerprint(m):
                log.warning("energy: meter %s changed in the plant file since the checkpoint; it starts afresh "
                            "(its open hour and day restart from the next reading)", m.path.asset)
                continue
            m.tracker.load_state(s["tracker"])
            m.pending_parts, m.changed = float(s["pending_parts"]), bool(s["changed"])
            if m.baseline is not None and s["baseline"] is not None:
                b, sb = m.baseline, s["baseline"]
                b.intercept_kwh_per_h = None if sb["intercept"] is None else float(sb["intercept"])
                b.kwh_per_good_part = None if sb["slope"] is None else float(sb["slope"])
                b.reference = [(float(e), float(p)) for e, p in sb["reference"]]
                b.firing = bool(sb["firing"])
            if m.air_leak is not None and s["air_leak"] is not None:
                m.air_leak.episodes.load_state(s["air_leak"])
        for s in state["gauges"]:
            g = self._gauges.get(s["gauge"])
            if g is None:
                continue
            g.product = None if s["product"] is None else str(s["product"])
            g.product_ts = ts_in(s["product_ts"])
            g.pending = (ts_req(s["pending"][0]), bool(s["pending"][1])) if s["pending"] is not None else None
            g.done_ts = ts_in(s["done_ts"])
        self._states = {str(k): str(v) for k, v in state["states"].items()}
        self._state_hist = {str(k): [(ts_req(t), str(v)) for t, v in h] for k, h in state["state_hist"].items()}
        self._parts_last = {str(k): (ts_req(t), float(v)) for k, (t, v) in state["parts_last"].items()}
        self._environment.load_state(state["environment"])

    # -- inputs -------------------------------------------------------------------------------

    def _state_change(self, machine: str, ts: datetime, state: str) -> None:
        hist = self._state_hist.setdefault(machine, [])
        i = bisect.bisect_right([t for t, _ in hist], ts)
        if i and hist[i - 1][0] == ts:
            hist[i - 1] = (ts, state)
        else:
            hist.insert(i, (ts, state))
        self._states[machine] = hist[-1][1]

    def _state_at(self, machine: str, ts: datetime) -> str | None:
        """The state in force at `ts` (the last change at or before it); older history is dropped.

        An interval's state is the one at its start: a machine that went idle at 10:00 was
        running during the interval that ended at 10:00. Meter readings of one machine come in
        time order, so changes before the one in force now are never needed again.
        """
        hist = self._state_hist.get(machine)
        if not hist:
            return None
        i = bisect.bisect_right([t for t, _ in hist], ts)
        if i == 0:
            return hist[0][1]  # state reported only after the interval began: the best we know
        del hist[:i - 1]
        return hist[0][1]

    def _gauge_reading(self, gauge: _Gauge, r: Reading) -> None:
        if r.signal == gauge.product_signal:
            # Not switched back by a redelivered (older) product reading.
            if isinstance(r.value, str) and (gauge.product_ts is None or r.ts > gauge.product_ts):
                gauge.product, gauge.product_ts = r.value, r.ts
            return
        if gauge.done_ts is not None and r.ts <= gauge.done_ts:
            return  # a part already counted (redelivery, or a late reading of it)
        if gauge.pending is not None and r.ts > gauge.pending[0]:
            self._finish_part(gauge)
        if gauge.pending is None:
            gauge.pending = (r.ts, True)
        if r.ts == gauge.pending[0]:
            gauge.judge(r)

    def _finish_part(self, gauge: _Gauge) -> None:
        if gauge.pending is None:
            return  # no part being read: nothing to finish
        ts, good = gauge.pending
        gauge.pending, gauge.done_ts = None, ts
        meter = self._by_machine.get(gauge.machine)
        if meter is not None and good:
            meter.pending_parts += 1.0

    def _part_count(self, meter: _Meter, r: Reading) -> None:
        value = r.number
        if value is None:
            return
        key = meter.machine.asset
        last = self._parts_last.get(key)
        if last is not None and r.ts <= last[0]:
            return
        if last is not None:
            # A counter that drops was reset (power cycle, new shift): it counted from zero since.
            meter.pending_parts += value - last[1] if value >= last[1] else value
        self._parts_last[key] = (r.ts, value)

    def _meter_reading(self, meter: _Meter, r: Reading, out: Output) -> None:
        value = r.number
        if value is None:
            return
        for g in meter.gauges:
            if g.pending is not None and g.pending[0] <= r.ts:
                self._finish_part(g)
        start = meter.tracker.last_ts
        state = self._state_at(meter.machine.asset, start) if start is not None else None
        result = meter.tracker.update(r.ts, value, state=state, good_parts=meter.pending_parts)
        if result.interval is None:
            return  # the first reading, or a redelivered one: parts wait for the next interval
        meter.pending_parts = 0.0
        meter.changed = True
        for rec in result.records:
            out.lines.append(self._line(meter, rec))
            if meter.baseline is not None and rec.period == "hour":
                meter.baseline.learn(rec, meter.machine.asset)
                self._deviation(meter, meter.baseline, rec, r.ts, out)
        for finding in result.findings:
            out.events.append(self._finding_event(meter, finding))
        if meter.air_leak is not None:
            others = {a: s for a, s in self._states.items() if a not in self._compressors}
            if others:
                iv = result.interval
                power_kw = value if meter.config.kind == "power" else iv.energy_kwh / (iv.duration_s / 3600)
                producing = any(s in PRODUCING_STATES for s in others.values())
                for finding in meter.air_leak.update(r.ts, power_kw, producing):
                    out.events.append(self._finding_event(meter, finding))

    # -- outputs ------------------------------------------------------------------------------

    def _line(self, meter: _Meter, rec: RollupRecord) -> str:
        fields: dict[str, Any] = rec.fields()
        if meter.baseline is not None and (expected := meter.baseline.expected_kwh(rec)) is not None:
            fields["expected_kwh"] = float(expected)
            if expected > 0:
                fields["deviation_pct"] = 100.0 * (rec.energy_kwh - expected) / expected
        return to_line(rec.measurement, rec.tags(),
                       {k: v for k, v in fields.items() if isinstance(v, float) and math.isfinite(v)}, rec.start)

    def _deviation(self, meter: _Meter, baseline: _BaselineState, rec: RollupRecord, ts: datetime,
                   out: Output) -> None:
        expected = baseline.expected_kwh(rec)
        if expected is None or expected < baseline.config.min_expected_kwh:
            return
        pct = 100.0 * (rec.energy_kwh - expected) / expected
        beyond = abs(pct) > baseline.config.deviation_limit_pct
        if beyond == baseline.firing:
            return
        baseline.firing = beyond
        hour = rec.start.isoformat()
        message = (f"{meter.machine.asset}: {rec.energy_kwh:.2f} kWh in the hour from {hour}, "
                   f"{pct:+.1f} % against the baseline's {expected:.2f} kWh"
                   + (f" (limit ±{baseline.config.deviation_limit_pct:g} %)" if beyond else ", back within limit"))
        out.events.append(AlertEvent(
            asset=meter.machine, source=SOURCE, kind="baseline_deviation",
            severity=Severity.WARNING if beyond else Severity.INFO,
            state=EventState.FIRING if beyond else EventState.CLEARED, key="energy:baseline_deviation",
            message=message, ts=ts,
            details={"hour": hour, "energy_kwh": rec.energy_kwh, "expected_kwh": expected, "deviation_pct": pct,
                     "good_parts": rec.good_parts}))

    def _finding_event(self, meter: _Meter, f: Finding) -> AlertEvent:
        firing = f.status == "open"
        message = f.message if firing else f"{f.message}; ended"
        return AlertEvent(asset=meter.machine, source=SOURCE, kind=f.kind,
                          severity=Severity.WARNING if firing else Severity.INFO,
                          state=EventState.FIRING if firing else EventState.CLEARED,
                          key=f"energy:{f.kind}", message=message, ts=f.end,
                          details={**f.details(), "meter": meter.path.asset})


def build_energy(plant: Plant, **options: Any) -> EnergyAnalytic | None:
    """The energy analytic for a plant, or None when it has no `energy:` section or no meters/limits.

    Options go to `EnergyAnalytic` (`factors`: a FactorTable; `live`: rewrite open periods).
    """
    config = energy_config(plant)
    if config is None or not (config.meters or config.environment):
        return None
    return EnergyAnalytic(plant, **options)
