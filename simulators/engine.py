"""The plant engine: every asset model of a plant file, stepped on a simulated clock, with faults.

Pure computation, no I/O: `PlantEngine.step()` returns a `Frame` (the tick's time, every
signal's value and status, the parts the gauges measured, which devices are offline and
which OPC UA servers restart). `simulators.plant_sim.PlantSimulator` turns frames into OPC
UA writes and MQTT messages; tests step the engine directly, which is fast.

Links between assets follow naming conventions, because the plant schema has no field for
them (yet): `meter-X` meters asset X; a `main_meter` meters every machine plus the plant's
base load; `gauge-X` measures the parts of machine X (otherwise the first CNC on its line).

Ground truth: every fault that becomes active is recorded as a `Label` (asset, signal,
kind, start, end, failure time), written as CSV by `write_labels`.
"""

from __future__ import annotations

import csv
import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from simulators.models import (
    AssetModel,
    CncModel,
    CompressorModel,
    EnergyMeterModel,
    EnvSensorModel,
    GaugeModel,
    InjectionMouldingModel,
    PlantContext,
    RandomWalk,
    SignalInfo,
    WaterMeterModel,
    ambient_temp_c,
)
from simulators.scenario import (
    AirLeak,
    BearingWear,
    DeviceOffline,
    Fault,
    MeanShift,
    MeterReset,
    Scenario,
    SensorDropout,
    SensorSpike,
    SensorStuck,
    ServerRestart,
    ToolWear,
    VarianceIncrease,
)
from twin.errors import ConfigError
from twin.plant import BoundSignal, Plant
from twin.readings import Value
from twin.topics import AssetPath

log = logging.getLogger(__name__)

_M = TypeVar("_M")

MACHINE_TYPES = ("cnc", "injection_moulding", "compressor")
MAIN_BASE_LOAD_KW = 12.0  # lighting, HVAC, IT: what no machine meter sees
GOOD = "Good"
SENSOR_FAILURE = "BadSensorFailure"  # OPC UA Part 4 §7.34.2: the sensor, not the link, failed
LABEL_FIELDS = ("asset", "signal", "kind", "start", "end", "failure_time")


@dataclass(frozen=True, slots=True)
class PartMessage:
    """One measured part, published by its gauge as one MQTT document."""

    asset: AssetPath
    ts: datetime
    values: dict[str, Value]
    status: dict[str, str]


@dataclass(slots=True)
class Frame:
    """Everything the plant emits at one tick."""

    t_s: float
    ts: datetime
    values: dict[AssetPath, dict[str, Value]]
    status: dict[tuple[AssetPath, str], str] = field(default_factory=dict)  # non-Good only
    parts: list[PartMessage] = field(default_factory=list)
    offline: set[AssetPath] = field(default_factory=set)
    restarts: list[tuple[str, float]] = field(default_factory=list)  # (connection, downtime_s)


@dataclass(slots=True)
class Label:
    """Ground truth for one injected fault."""

    asset: str
    signal: str
    kind: str
    start: datetime
    end: datetime | None
    failure_time: datetime | None = None

    def row(self) -> dict[str, str]:
        """The label as a CSV row (RFC 3339 UTC times; empty when not applicable)."""
        def fmt(ts: datetime | None) -> str:
            return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else ""
        return {"asset": self.asset, "signal": self.signal, "kind": self.kind, "start": fmt(self.start),
                "end": fmt(self.end), "failure_time": fmt(self.failure_time)}


def write_labels(labels: Iterable[Label], path: str | Path) -> None:
    """Write labels as CSV with the header asset,signal,kind,start,end,failure_time."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=LABEL_FIELDS)
        writer.writeheader()
        for label in labels:
            writer.writerow(label.row())


# The signal each asset-level fault is labelled on: what a detector should flag.
_MAIN_SIGNAL = {"bearing_wear": "bearing_band_energy", "tool_wear": "tool_wear_pct", "air_leak": "power_kw",
                "meter_reset": "energy_kwh", "device_offline": "", "server_restart": ""}


class PlantEngine:
    """All asset models of a plant, the scenario's faults, and the simulated clock."""

    def __init__(self, plant: Plant, *, scenario: Scenario | None = None, seed: int = 1, tick_s: float = 1.0,
                 start: datetime | None = None) -> None:
        self.plant = plant
        self.scenario = scenario
        self.seed = seed
        self.tick_s = tick_s
        self.start = (start or (scenario.start if scenario else None) or datetime.now(UTC)).astimezone(UTC)
        self.t_s = 0.0
        self.labels: list[Label] = []
        self._signals: dict[AssetPath, list[BoundSignal]] = {}
        for sig in plant.signals():
            self._signals.setdefault(sig.asset, []).append(sig)
        self.paths = {p.asset: p for p in self._signals}
        self.types = {p.asset: sigs[0].asset_type for p, sigs in self._signals.items()}
        self.models: dict[str, AssetModel] = {}
        # Explicit links from the plant file: meter → metered asset, gauge → measured machine.
        self._links = {p.asset: link for p, a in plant.assets() if (link := a.meters or a.measures) is not None}
        self._extra: dict[str, RandomWalk] = {}
        self._build_models()
        self._faults: list[Fault] = list(scenario.faults) if scenario else []
        self._active: set[int] = set()
        self._stuck: dict[int, Value] = {}
        self._fault_rng = [random.Random(f"{seed}/fault/{i}") for i in range(len(self._faults))]
        self._tool_failures_seen: dict[int, int] = {}
        self.ctx = PlantContext()
        self.initial = self._frame(0.0)

    # -- construction ------------------------------------------------------------------------

    def _rng(self, asset: str) -> random.Random:
        # Seeded by name, so adding an asset to the plant does not change the others' data.
        return random.Random(f"{self.seed}/{asset}")

    def _build_models(self) -> None:
        machines = [a for a, t in self.types.items() if t in MACHINE_TYPES]
        compressors = [a for a, t in self.types.items() if t == "compressor"]
        for name, typ in self.types.items():
            rng = self._rng(name)
            model: AssetModel | None
            if typ == "cnc":
                model = CncModel(name=name, rng=rng)
            elif typ == "injection_moulding":
                model = InjectionMouldingModel(name=name, rng=rng)
            elif typ == "compressor":
                model = CompressorModel(name=name, rng=rng, share=1 / len(compressors))
            elif typ == "energy_meter":
                # The plant's `meters:` link, else the naming convention meter-X meters X.
                metered = self._links.get(name) or name.removeprefix("meter-")
                model = EnergyMeterModel(name=name, rng=rng, metered=[metered] if metered in self.types else [])
            elif typ == "main_meter":
                model = EnergyMeterModel(name=name, rng=rng, metered=machines, base_kw=MAIN_BASE_LOAD_KW)
            elif typ == "water_meter":
                model = WaterMeterModel(name=name, rng=rng)
            elif typ == "env_sensor":
                model = EnvSensorModel(name=name, rng=rng)
            elif typ == "gauge":
                model = GaugeModel(name=name, rng=rng, machine=self._gauged_machine(name))
            else:
                model = None
            wanted = [s.name for s in self._signals[self.paths[name]]]
            known = model.SIGNALS if model is not None else {}
            extra = [s for s in wanted if s not in known]
            if model is not None:
                self.models[name] = model
            if extra and typ != "gauge":
                self._extra[name] = RandomWalk(extra, rng=random.Random(f"{self.seed}/{name}/extra"))
        # Step order matters for coupling: machines first (power, air, parts), then the
        # compressors that supply their air, then meters and gauges that observe them.
        rank = {"cnc": 0, "injection_moulding": 0, "compressor": 1}
        self._order = sorted(self.models, key=lambda a: rank.get(self.types[a], 2))

    def _gauged_machine(self, gauge: str) -> str | None:
        if gauge in self._links:  # the plant's `measures:` link
            return self._links[gauge]
        named = gauge.removeprefix("gauge-")
        if self.types.get(named) == "cnc":
            return named
        line = self.paths[gauge]
        for name, path in self.paths.items():
            if self.types[name] == "cnc" and (path.area, path.line) == (line.area, line.line):
                return name
        return None

    def signal_info(self, sig: BoundSignal) -> SignalInfo | None:
        """Unit and instrument range of a signal, when its model knows them."""
        model = self.models.get(sig.asset.asset)
        return model.SIGNALS.get(sig.name) if model is not None else None

    # -- time --------------------------------------------------------------------------------

    def ts(self, t_s: float) -> datetime:
        """The simulated wall time of t_s seconds into the run."""
        return self.start + timedelta(seconds=t_s)

    def step(self) -> Frame:
        """Advance the plant by one tick and return what it emits."""
        return self._frame(self.tick_s)

    # -- one tick ----------------------------------------------------------------------------

    def _frame(self, dt_s: float) -> Frame:
        self.t_s += dt_s
        t = self.t_s
        ts = self.ts(t)
        frame = Frame(t, ts, {})
        self._apply_degradations(t, dt_s, frame)
        ctx = self.ctx
        ctx.t_s = t
        ctx.hour_of_day = (ts.hour + ts.minute / 60 + ts.second / 3600) % 24
        ctx.ambient_c = ambient_temp_c(ctx.hour_of_day)
        ctx.air_demand_m3_min = 0.0
        ctx.cooling_water_l_min = 0.0
        computed: dict[str, dict[str, Value]] = {}
        for name in self._order:
            computed[name] = self.models[name].step(dt_s, ctx)
        for name, walk in self._extra.items():
            computed.setdefault(name, {}).update(walk.step(dt_s))
        for path, sigs in self._signals.items():
            values = computed.get(path.asset, {})
            frame.values[path] = {s.name: values.get(s.name) for s in sigs}
        self._collect_parts(frame)
        self._apply_signal_faults(t, dt_s, frame)
        self._record_tool_failures()
        return frame

    def _collect_parts(self, frame: Frame) -> None:
        for name, model in self.models.items():
            if isinstance(model, GaugeModel):
                path = self.paths[name]
                bound = {s.name for s in self._signals[path]}
                for t_s, values in model.last:
                    frame.parts.append(PartMessage(path, self.ts(t_s), {k: v for k, v in values.items() if k in bound},
                                                   {}))

    def _activate(self, i: int, fault: Fault, t: float) -> bool:
        """Whether fault i is active at t; records its label the first time it is."""
        end = fault.onset + fault.downtime if isinstance(fault, ServerRestart) else fault.end_s
        active = t >= fault.onset and (end is None or t < end)
        if active and i not in self._active:
            self._active.add(i)
            if isinstance(fault, ServerRestart):
                for path in self._assets_on(fault.connection):
                    self.labels.append(Label(path.asset, "", fault.kind, self.ts(fault.onset), self.ts(end or t)))
            else:
                signal = getattr(fault, "signal", None) or _MAIN_SIGNAL.get(fault.kind, "")
                failure = self.ts(fault.failure) if isinstance(fault, BearingWear) else None
                label_end = failure if isinstance(fault, BearingWear) else (self.ts(end) if end is not None else None)
                if isinstance(fault, MeterReset):
                    label_end = self.ts(fault.onset)
                if not isinstance(fault, SensorSpike):  # spikes are labelled one by one
                    self.labels.append(Label(fault.asset, signal, fault.kind, self.ts(fault.onset), label_end,
                                             failure))
            log.info("fault %s on %s starts at %s", fault.kind, getattr(fault, "asset", ""), self.ts(fault.onset))
        return active

    def _assets_on(self, connection: str) -> list[AssetPath]:
        return [path for path, sigs in self._signals.items()
                if any(s.spec.source == "opcua" and s.spec.binding.connection == connection for s in sigs)]

    def _model(self, asset: str, kind: type[_M], fault: str) -> _M:
        """The model simulating `asset`, which a fault of this kind needs to be of type `kind`."""
        model = self.models.get(asset)
        if not isinstance(model, kind):
            # check_against_plant refuses such a scenario; a scenario built in code may not have been checked.
            raise ConfigError(f"scenario fault {fault} on {asset!r}: the asset is simulated as "
                              f"{type(model).__name__ if model is not None else 'nothing'}, not {kind.__name__}")
        return model

    def _apply_degradations(self, t: float, dt_s: float, frame: Frame) -> None:
        for i, fault in enumerate(self._faults):
            if isinstance(fault, BearingWear):
                model = self.models[fault.asset]
                if self._activate(i, fault, t) or t >= fault.onset:
                    x = min(1.0, (t - fault.onset) / (fault.failure - fault.onset))
                    model.bearing_wear = x  # type: ignore[attr-defined]
                    if t >= fault.failure:
                        model.failed = True  # type: ignore[attr-defined]
            elif isinstance(fault, ToolWear):
                cnc = self._model(fault.asset, CncModel, fault.kind)
                if self._activate(i, fault, t):
                    if i not in self._tool_failures_seen:
                        self._tool_failures_seen[i] = len(cnc.tool_failures)
                    cnc.tool_wear_factor = fault.rate
                elif t >= fault.onset:
                    cnc.tool_wear_factor = 1.0
            elif isinstance(fault, AirLeak):
                comp = self._model(fault.asset, CompressorModel, fault.kind)
                if self._activate(i, fault, t):
                    comp.leak_m3_min = min(fault.max_m3_min, fault.rate_m3_min_per_h * (t - fault.onset) / 3600)
                else:
                    comp.leak_m3_min = 0.0
            elif isinstance(fault, MeterReset):
                meter = self._model(fault.asset, EnergyMeterModel, fault.kind)
                if fault.onset <= t < fault.onset + max(dt_s, 1e-9) and self._activate(i, fault, t):
                    meter.reset_to_kwh = fault.to_kwh
            elif isinstance(fault, ServerRestart):
                first = i not in self._active
                if self._activate(i, fault, t) and first:
                    frame.restarts.append((fault.connection, fault.downtime))
            elif isinstance(fault, DeviceOffline):
                if self._activate(i, fault, t):
                    frame.offline.add(self.paths[fault.asset])

    def _apply_signal_faults(self, t: float, dt_s: float, frame: Frame) -> None:
        for i, fault in enumerate(self._faults):
            if not isinstance(fault, MeanShift | VarianceIncrease | SensorStuck | SensorDropout | SensorSpike):
                continue
            path = self.paths[fault.asset]
            # A gauge's characteristics live in its part messages, a sensor's in the tick values.
            targets: list[tuple[float, dict[str, Value], dict[str, str]]] = []
            if self.types[fault.asset] == "gauge":
                targets = [(p.ts.timestamp() - self.start.timestamp(), p.values, p.status)
                           for p in frame.parts if p.asset == path]
            else:
                targets = [(t, frame.values[path], {})]
            for when, values, status in targets:
                if not self._activate(i, fault, when) or values.get(fault.signal) is None:
                    continue
                value = values[fault.signal]
                new, bad = self._fault_value(i, fault, value, when, dt_s)
                values[fault.signal] = new
                if bad:
                    status[fault.signal] = SENSOR_FAILURE
                    if self.types[fault.asset] != "gauge":
                        frame.status[(path, fault.signal)] = SENSOR_FAILURE

    def _fault_value(self, i: int, fault: Fault, value: Value, t: float, dt_s: float) -> tuple[Value, bool]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(fault, SensorStuck):
                return self._stuck.setdefault(i, value), False
            return (None, True) if isinstance(fault, SensorDropout) else (value, False)
        rng = self._fault_rng[i]
        if isinstance(fault, MeanShift):
            return _like(value, value + fault.magnitude), False
        if isinstance(fault, VarianceIncrease):
            model = self.models.get(fault.asset)
            sd = model.noise_sd(fault.signal) if isinstance(model, GaugeModel) else 0.01 * abs(value)
            # Extra independent noise with sd·√(k²−1) makes the total sd k times the normal one.
            return _like(value, value + rng.gauss(0, sd * math.sqrt(fault.factor**2 - 1))), False
        if isinstance(fault, SensorStuck):
            return self._stuck.setdefault(i, value), False
        if isinstance(fault, SensorDropout):
            return None, True
        if not isinstance(fault, SensorSpike):
            raise TypeError(f"no simulation of sensor fault {type(fault).__name__}")
        # Poisson arrivals: probability rate·dt of a spike in a short tick.
        if rng.random() < fault.rate_per_h * dt_s / 3600:
            self.labels.append(Label(fault.asset, fault.signal, fault.kind, self.ts(t), self.ts(t)))
            return _like(value, value + fault.magnitude), False
        return value, False

    def _record_tool_failures(self) -> None:
        for i, seen in self._tool_failures_seen.items():
            fault = self._faults[i]
            if not isinstance(fault, ToolWear):  # only tool-wear faults are recorded in _tool_failures_seen
                raise TypeError(f"tool failures recorded for a {type(fault).__name__} fault")
            cnc = self._model(fault.asset, CncModel, fault.kind)
            if len(cnc.tool_failures) > seen:
                label = next(lb for lb in self.labels if lb.kind == "tool_wear" and lb.asset == fault.asset
                             and lb.start == self.ts(fault.onset))
                if label.failure_time is None:
                    label.failure_time = self.ts(cnc.tool_failures[seen])


def _like(old: Value, new: float) -> Value:
    """Keep integer signals integers."""
    return round(new) if isinstance(old, int) else round(new, 6)
