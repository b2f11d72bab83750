"""Physics-lite models of the simulated machines and devices, stepped on a simulated clock.

Each asset type of the plant file has a model (`cnc`, `injection_moulding`, `compressor`,
`energy_meter`, `main_meter`, `water_meter`, `env_sensor`, `gauge`); signals a model does
not produce, and assets of unknown type, get a bounded random walk, so any plant file can
be simulated. Models are coupled through a `PlantContext` that the engine fills each tick:
machines report their power and air demand, meters integrate the power of what they meter,
gauges measure the parts their machine finished. Every model owns its own
`random.Random`, so a run is deterministic for a seed.

Fault hooks are plain attributes the engine sets (`bearing_wear`, `tool_wear_factor`,
`leak_m3_min`, `failed`); see `simulators.engine`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from twin.readings import Value

SQRT3 = math.sqrt(3.0)
LINE_VOLTAGE_V = 400.0  # IEC 60038 low-voltage three-phase supply, line to line
# A six-digit kWh register with two decimals wraps after 999 999.99 kWh (typical of
# DIN-rail meters, e.g. the MID class B register layout): counters roll over here.
ROLLOVER_KWH = 1_000_000.0


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """Engineering unit and instrument range of a signal (for OPC UA EURange)."""

    unit: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Part:
    """A part a machine finished: what the in-line gauge needs to measure it."""

    serial: str
    t_s: float  # simulated seconds since the start of the run
    tool_wear: float  # 0 (fresh) .. 1 (worn out)
    spindle_temp_c: float


@dataclass
class PlantContext:
    """What assets share within one tick; the engine refills it every step."""

    t_s: float = 0.0
    hour_of_day: float = 12.0
    ambient_c: float = 22.0
    power_kw: dict[str, float] = field(default_factory=dict)
    power_factor: dict[str, float] = field(default_factory=dict)
    running: dict[str, bool] = field(default_factory=dict)
    air_demand_m3_min: float = 0.0
    parts: dict[str, list[Part]] = field(default_factory=dict)
    cooling_water_l_min: float = 0.0


class AssetModel(Protocol):
    """A simulated asset: `step` advances it by dt_s seconds of plant time."""

    SIGNALS: ClassVar[dict[str, SignalInfo]]

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]: ...


def ambient_temp_c(hour_of_day: float) -> float:
    """Shop-floor air temperature: a daily cycle peaking mid-afternoon (±3 K around 22 °C)."""
    return 22.0 + 3.0 * math.sin(2 * math.pi * (hour_of_day - 9.0) / 24.0)


def _lag(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order lag (exact discretisation), the usual thermal model of a lumped mass."""
    return target + (value - target) * math.exp(-dt_s / tau_s)


class RandomWalk:
    """Bounded random walk for signals without a physical model."""

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {}

    def __init__(self, signals: Iterable[str], *, rng: random.Random) -> None:
        self._rng = rng
        self._values = {name: 50.0 for name in signals}

    def step(self, dt_s: float, ctx: PlantContext | None = None) -> dict[str, Value]:
        for name, value in self._values.items():
            self._values[name] = min(100.0, max(0.0, value + self._rng.gauss(0, 1.0)))
        return {k: round(v, 3) for k, v in self._values.items()}


class CncModel:
    """A CNC machining centre making parts in batches, with spindle, tool and bearing physics.

    - States: running, idle (waiting for material), setup (program change between
      batches), down (out of service after a failure), fault (alarm).
    - Power follows state and load: the spindle's electrical power is rated power × load /
      motor efficiency on top of the standby draw (controls, hydraulics, coolant pump,
      chip conveyor), which idle machines keep drawing.
    - Tool wear grows per part; flank wear raises cutting force (spindle load) and
      undersizes the bore; the tool-life counter swaps the tool after TOOL_LIFE_PARTS.
    - Bearing wear `bearing_wear` ∈ [0, 1] (set by the engine) raises bearing-band energy
      exponentially, and vibration and bearing temperature with it; `failed` stops it.
    """

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "state": SignalInfo("", 0, 0),
        "program": SignalInfo("", 0, 0),
        "spindle_speed": SignalInfo("rpm", 0, 12000),
        "spindle_load": SignalInfo("%", 0, 150),
        "feed_rate_mm_min": SignalInfo("mm/min", 0, 5000),
        "vibration_rms": SignalInfo("mm/s", 0, 20),
        "bearing_band_energy": SignalInfo("g2", 0, 5),
        "spindle_temp": SignalInfo("degC", 0, 120),
        "coolant_temp": SignalInfo("degC", 0, 60),
        "motor_current": SignalInfo("A", 0, 80),
        "power_kw": SignalInfo("kW", 0, 40),
        "part_count": SignalInfo("", 0, 0),
        "tool_wear_pct": SignalInfo("%", 0, 100),
        "tool_number": SignalInfo("", 0, 0),
    }
    CYCLE_S = 40.0
    CUT_S = 32.0  # the rest of the cycle is unload/load with the spindle stopped
    STANDBY_KW = 3.0
    SPINDLE_RATED_KW = 15.0
    MOTOR_EFFICIENCY = 0.85  # IE3 motor around rated load (IEC 60034-30-1)
    TOOL_LIFE_PARTS = 300
    WEAR_PER_PART = 0.6 / TOOL_LIFE_PARTS  # a normal insert reaches 60 % wear at its life limit
    PROGRAMS = (("O1001", 8000.0, 55.0, 1200.0), ("O1002", 6500.0, 62.0, 900.0))  # name, rpm, load %, feed
    BATCH_PARTS = 200
    SETUP_S = 900.0
    IDLE_PROBABILITY = 0.02  # per part: material not there, operator away
    IDLE_MEAN_S = 180.0
    REPAIR_S = 1800.0
    AIR_M3_MIN = 0.35  # air blast and clamping while running

    def __init__(self, *, name: str, rng: random.Random) -> None:
        self.name = name
        self._rng = rng
        self.state = "running"
        self._state_left_s = 0.0
        self._cycle_s = rng.uniform(0, self.CYCLE_S)
        self._program = 0
        self._batch = 0
        self.parts = 0
        self.tool_wear = rng.uniform(0.0, 0.3)
        self._tool_parts = int(self.tool_wear / self.WEAR_PER_PART)
        self._tool_number = 1
        self.spindle_temp_c = 35.0
        self._coolant_temp_c = 22.0
        self.power_kw = self.STANDBY_KW
        self.power_factor = 0.6
        # Fault hooks, set by the engine.
        self.bearing_wear = 0.0
        self.tool_wear_factor = 1.0
        self.failed = False
        self.tool_failures: list[float] = []

    def _finish_part(self, t_s: float, finished: list[Part]) -> None:
        self.parts += 1
        self._batch += 1
        self._tool_parts += 1
        self.tool_wear = min(1.0, self.tool_wear + self.WEAR_PER_PART * self.tool_wear_factor)
        finished.append(Part(f"{self.name}-{self.parts:07d}", t_s, self.tool_wear, self.spindle_temp_c))
        if self.tool_wear >= 1.0:
            # A worn-out insert chips: the machine alarms, the operator replaces the tool.
            self.tool_failures.append(t_s)
            self._change_tool()
            self._enter("fault", self.REPAIR_S / 3)
        elif self._tool_parts >= self.TOOL_LIFE_PARTS:
            self._change_tool()
        elif self._batch >= self.BATCH_PARTS:
            self._batch = 0
            self._program = (self._program + 1) % len(self.PROGRAMS)
            self._enter("setup", self.SETUP_S)
        elif self._rng.random() < self.IDLE_PROBABILITY:
            self._enter("idle", self._rng.expovariate(1 / self.IDLE_MEAN_S))

    def _change_tool(self) -> None:
        self.tool_wear = 0.0
        self._tool_parts = 0
        self._tool_number = self._tool_number % 20 + 1

    def _enter(self, state: str, duration_s: float) -> None:
        self.state = state
        self._state_left_s = duration_s
        self._cycle_s = 0.0

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        rng = self._rng
        finished: list[Part] = []
        if self.failed and self.state not in ("fault", "down"):
            self._enter("fault", self.REPAIR_S)
        if self.state == "running":
            self._cycle_s += dt_s
            while self._cycle_s >= self.CYCLE_S and self.state == "running":
                self._cycle_s -= self.CYCLE_S
                self._finish_part(ctx.t_s - self._cycle_s, finished)
        elif dt_s > 0:
            self._state_left_s -= dt_s
            if self._state_left_s <= 0:
                if self.failed:
                    self._enter("down", math.inf)  # stays out of service until repaired
                else:
                    self._enter("running", 0.0)
        ctx.parts[self.name] = finished

        name, rpm, base_load, feed = self.PROGRAMS[self._program]
        cutting = self.state == "running" and self._cycle_s < self.CUT_S
        wear = self.bearing_wear
        # Exponential growth of bearing-band energy with damage, the shape seen in
        # run-to-failure data (IMS bearing set, Qiu et al. 2006; PRONOSTIA, Nectoux et al.
        # 2012) and assumed by exponential degradation models (Gebraeel et al. 2005):
        # ×20 at failure.
        band_gain = 1.0 + 19.0 * (math.exp(4.0 * wear) - 1.0) / (math.exp(4.0) - 1.0)
        if cutting:
            speed_rpm = rpm + rng.gauss(0, 15)
            # Cutting force rises with flank wear (about +25 % at end of life) and a
            # damaged bearing adds friction torque.
            load_pct = max(0.0, base_load * (1 + 0.25 * self.tool_wear) + 5 * wear + rng.gauss(0, 2.0))
            feed_mm_min = feed
        else:
            speed_rpm = load_pct = feed_mm_min = 0.0
        turning = speed_rpm > 0
        # Band energy scales with the square of speed (impact energy of the defect).
        band_g2 = (0.04 * (speed_rpm / 8000) ** 2 * band_gain * math.exp(rng.gauss(0, 0.08))
                   if turning else abs(rng.gauss(0.002, 0.0005)))
        vibration = ((0.9 + 0.01 * load_pct + 0.12 * (band_gain - 1)) if turning else 0.12) + abs(rng.gauss(0, 0.04))
        # Bearing temperature: first-order lag (τ 10 min) toward ambient + load + friction heat.
        bearing_heat_k = 18.0 * wear**2
        target_c = ctx.ambient_c + (0.25 * load_pct + 0.0012 * speed_rpm if turning else 2.0) + bearing_heat_k
        self.spindle_temp_c = _lag(self.spindle_temp_c, target_c, dt_s, 600.0)
        self._coolant_temp_c = _lag(self._coolant_temp_c, ctx.ambient_c + 0.06 * load_pct, dt_s, 300.0)
        standby = {"running": self.STANDBY_KW + 0.5, "idle": self.STANDBY_KW, "setup": self.STANDBY_KW + 0.5,
                   "down": 0.6, "fault": self.STANDBY_KW}[self.state]
        self.power_kw = max(0.0, standby + self.SPINDLE_RATED_KW * load_pct / 100 / self.MOTOR_EFFICIENCY
                            + rng.gauss(0, 0.08))
        # Induction motors run at poor power factor in light load (IEC 60034 typical curves).
        self.power_factor = 0.62 + 0.26 * min(1.0, load_pct / 80) if turning else 0.6
        ctx.power_kw[self.name] = self.power_kw
        ctx.power_factor[self.name] = self.power_factor
        ctx.running[self.name] = self.state == "running"
        if self.state == "running":
            ctx.air_demand_m3_min += self.AIR_M3_MIN
        return {
            "state": self.state,
            "program": name,
            "spindle_speed": round(speed_rpm, 1),
            "spindle_load": round(load_pct, 2),
            "feed_rate_mm_min": round(feed_mm_min, 1),
            "vibration_rms": round(vibration, 4),
            "bearing_band_energy": round(band_g2, 5),
            "spindle_temp": round(self.spindle_temp_c + rng.gauss(0, 0.05), 2),
            "coolant_temp": round(self._coolant_temp_c + rng.gauss(0, 0.05), 2),
            "motor_current": round(self.power_kw * 1000 / (SQRT3 * LINE_VOLTAGE_V * self.power_factor), 2),
            "power_kw": round(self.power_kw, 3),
            "part_count": self.parts,
            "tool_wear_pct": round(100 * self.tool_wear, 2),
            "tool_number": self._tool_number,
        }


class InjectionMouldingModel:
    """An injection moulding machine cycling inject → hold → cool/plasticise → open/eject.

    Barrel zones hold their set points while running; hydraulic pressure and pump power
    follow the cycle phase; heaters keep drawing power when the machine idles.
    """

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "state": SignalInfo("", 0, 0),
        **{f"barrel_zone{i}_temp": SignalInfo("degC", 0, 400) for i in range(1, 5)},
        "injection_pressure_bar": SignalInfo("bar", 0, 2500),
        "mould_temp": SignalInfo("degC", 0, 150),
        "cycle_time_s": SignalInfo("s", 0, 120),
        "shot_count": SignalInfo("", 0, 0),
        "power_kw": SignalInfo("kW", 0, 80),
        "motor_current": SignalInfo("A", 0, 150),
    }
    CYCLE_S = 30.0
    ZONE_SETPOINTS_C = (200.0, 215.0, 225.0, 230.0)  # a PP/ABS-range profile, feed to nozzle
    # phase end (s into cycle), pressure bar, pump kW
    PHASES = ((2.0, 1100.0, 28.0), (8.0, 550.0, 14.0), (20.0, 80.0, 16.0), (30.0, 0.0, 5.0))
    HEATERS_KW = 7.0
    IDLE_PROBABILITY = 0.01
    IDLE_MEAN_S = 300.0
    COOLING_L_MIN = 12.0

    def __init__(self, *, name: str, rng: random.Random) -> None:
        self.name = name
        self._rng = rng
        self.state = "running"
        self._left_s = 0.0
        self._cycle_pos_s = rng.uniform(0, self.CYCLE_S)
        self._cycle_len_s = self.CYCLE_S
        self._last_cycle_s = self.CYCLE_S
        self.shots = 0
        self._zones_c = list(self.ZONE_SETPOINTS_C)
        self._mould_c = 55.0
        self.failed = False
        self.bearing_wear = 0.0

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        rng = self._rng
        if self.failed:
            self.state = "fault"
        elif self.state == "running":
            self._cycle_pos_s += dt_s
            while self._cycle_pos_s >= self._cycle_len_s:
                self._cycle_pos_s -= self._cycle_len_s
                self.shots += 1
                self._last_cycle_s = self._cycle_len_s
                self._cycle_len_s = self.CYCLE_S + rng.gauss(0, 0.15)
                if rng.random() < self.IDLE_PROBABILITY:
                    self.state, self._left_s = "idle", rng.expovariate(1 / self.IDLE_MEAN_S)
                    break
        elif dt_s > 0:
            self._left_s -= dt_s
            if self._left_s <= 0:
                self.state, self._cycle_pos_s = "running", 0.0
        running = self.state == "running"
        pressure_bar, pump_kw = 0.0, 1.5
        if running:
            for end_s, p_bar, p_kw in self.PHASES:
                if self._cycle_pos_s < end_s:
                    pressure_bar, pump_kw = p_bar * (1 + rng.gauss(0, 0.01)), p_kw
                    break
        heating = self.state != "fault"
        for i, sp in enumerate(self.ZONE_SETPOINTS_C):
            self._zones_c[i] = _lag(self._zones_c[i], sp if heating else ctx.ambient_c, dt_s, 1800.0)
        self._mould_c = _lag(self._mould_c, 55.0 if running else ctx.ambient_c + 15, dt_s, 900.0)
        # Heaters run at a partial duty cycle to hold temperature (more while heating up).
        heater_kw = self.HEATERS_KW * (0.55 if heating else 0.0)
        power_kw = max(0.0, heater_kw + pump_kw + rng.gauss(0, 0.1))
        ctx.power_kw[self.name] = power_kw
        ctx.power_factor[self.name] = 0.85
        ctx.running[self.name] = running
        if running:
            ctx.cooling_water_l_min += self.COOLING_L_MIN
        values: dict[str, Value] = {"state": self.state}
        for i, z in enumerate(self._zones_c, start=1):
            values[f"barrel_zone{i}_temp"] = round(z + rng.gauss(0, 0.4), 2)
        values.update({
            "injection_pressure_bar": round(pressure_bar, 1),
            "mould_temp": round(self._mould_c + rng.gauss(0, 0.2), 2),
            "cycle_time_s": round(self._last_cycle_s, 2),
            "shot_count": self.shots,
            "power_kw": round(power_kw, 3),
            "motor_current": round(power_kw * 1000 / (SQRT3 * LINE_VOLTAGE_V * 0.85), 2),
        })
        return values


class CompressorModel:
    """A load/unload screw compressor holding a receiver between its pressure band.

    The receiver pressure changes with (delivered − demanded) free air:
    dp/dt = ΔQ · p_atm / V (isothermal receiver equation, e.g. Atlas Copco Compressed Air
    Manual, 8th ed., §3.5). Unloaded, the compressor still draws about 30 % of its
    full-load power (US DOE, "Improving Compressed Air System Performance", 2016, p. 35):
    that is why leaks, which force more load cycles, waste energy.
    """

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "state": SignalInfo("", 0, 0),
        "discharge_pressure_bar": SignalInfo("bar", 0, 10),
        "motor_current": SignalInfo("A", 0, 80),
        "power_kw": SignalInfo("kW", 0, 40),
        "vibration_rms": SignalInfo("mm/s", 0, 20),
        "discharge_temp": SignalInfo("degC", 0, 120),
        "air_flow_m3_min": SignalInfo("m3/min", 0, 6),
    }
    CAPACITY_M3_MIN = 3.6
    RECEIVER_M3 = 1.0
    LOAD_BAR, UNLOAD_BAR = 6.5, 7.5
    FULL_LOAD_KW = 22.0
    UNLOADED_FRACTION = 0.3
    BASE_DEMAND_M3_MIN = 0.6

    def __init__(self, *, name: str, rng: random.Random, share: float = 1.0) -> None:
        self.name = name
        self._rng = rng
        self.share = share  # fraction of the plant's air demand this compressor supplies
        self.loaded = True
        self._pressure_bar = rng.uniform(self.LOAD_BAR, self.UNLOAD_BAR)
        self._temp_c = 70.0
        self.leak_m3_min = 0.0
        self.bearing_wear = 0.0
        self.failed = False

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        rng = self._rng
        demand = (self.BASE_DEMAND_M3_MIN + ctx.air_demand_m3_min) * self.share + self.leak_m3_min
        demand *= 1 + rng.gauss(0, 0.03)
        delivered = self.CAPACITY_M3_MIN if self.loaded and not self.failed else 0.0
        self._pressure_bar = max(0.0, self._pressure_bar + (delivered - demand) / 60 * dt_s / self.RECEIVER_M3)
        if self._pressure_bar >= self.UNLOAD_BAR:
            self.loaded = False
        elif self._pressure_bar <= self.LOAD_BAR:
            self.loaded = True
        if self.failed:
            state, power_kw = "fault", 0.0
        elif self.loaded:
            state, power_kw = "load", self.FULL_LOAD_KW
        else:
            state, power_kw = "unload", self.FULL_LOAD_KW * self.UNLOADED_FRACTION
        power_kw = max(0.0, power_kw + rng.gauss(0, 0.15)) if power_kw else 0.0
        band_gain = 1.0 + 9.0 * (math.exp(4.0 * self.bearing_wear) - 1.0) / (math.exp(4.0) - 1.0)
        self._temp_c = _lag(self._temp_c, ctx.ambient_c + (60.0 if state == "load" else 35.0)
                            + 15 * self.bearing_wear**2, dt_s, 300.0)
        ctx.power_kw[self.name] = power_kw
        ctx.power_factor[self.name] = 0.86 if state == "load" else 0.45
        ctx.running[self.name] = state == "load"
        vibration = ((2.2 if state == "load" else 1.3) * band_gain if power_kw else 0.05) + abs(rng.gauss(0, 0.05))
        pf = ctx.power_factor[self.name]
        return {
            "state": state,
            "discharge_pressure_bar": round(self._pressure_bar + rng.gauss(0, 0.01), 3),
            "motor_current": round(power_kw * 1000 / (SQRT3 * LINE_VOLTAGE_V * pf), 2),
            "power_kw": round(power_kw, 3),
            "vibration_rms": round(vibration, 4),
            "discharge_temp": round(self._temp_c + rng.gauss(0, 0.1), 2),
            "air_flow_m3_min": round(delivered, 3),
        }


class EnergyMeterModel:
    """A three-phase energy meter on the feeder of the assets it meters.

    Power is the metered assets' power (plus a base load for a main meter), split over the
    phases with the meter's own small, fixed imbalance; the kWh counter integrates it and
    rolls over at ROLLOVER_KWH. `reset_to_kwh` is the engine's hook for counter resets.
    """

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "power_kw": SignalInfo("kW", 0, 500),
        **{f"power_l{i}_kw": SignalInfo("kW", 0, 200) for i in (1, 2, 3)},
        "power_factor": SignalInfo("", 0, 1),
        "energy_kwh": SignalInfo("kWh", 0, ROLLOVER_KWH),
        "voltage_v": SignalInfo("V", 0, 500),
        "current_a": SignalInfo("A", 0, 1000),
    }

    def __init__(self, *, name: str, rng: random.Random, metered: list[str], base_kw: float = 0.0) -> None:
        self.name = name
        self._rng = rng
        self.metered = metered
        self._base_kw = base_kw
        self.energy_kwh = rng.uniform(1000, 5000)
        raw = [1 + rng.gauss(0, 0.02) for _ in range(3)]
        self._phase_share = [r / sum(raw) for r in raw]
        self.reset_to_kwh: float | None = None

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        rng = self._rng
        if self.reset_to_kwh is not None:
            self.energy_kwh, self.reset_to_kwh = self.reset_to_kwh, None
        loads = [ctx.power_kw.get(a, 0.0) for a in self.metered]
        power_kw = max(0.0, sum(loads) + self._base_kw + rng.gauss(0, 0.05))
        total = sum(loads)
        if self._base_kw or not total:
            pf = 0.93  # a main feeder behind power-factor correction capacitors
        else:
            pf = sum(ctx.power_factor.get(a, 0.9) * p for a, p in zip(self.metered, loads, strict=True)) / total
        self.energy_kwh = (self.energy_kwh + power_kw * dt_s / 3600.0) % ROLLOVER_KWH
        voltage_v = LINE_VOLTAGE_V + rng.gauss(0, 1.5)
        values: dict[str, Value] = {
            "power_kw": round(power_kw, 3),
            "power_factor": round(min(1.0, pf + rng.gauss(0, 0.005)), 4),
            "energy_kwh": round(self.energy_kwh, 4),
            "voltage_v": round(voltage_v, 2),
            "current_a": round(power_kw * 1000 / (SQRT3 * voltage_v * max(pf, 0.1)), 3),
        }
        for i, share in enumerate(self._phase_share, start=1):
            values[f"power_l{i}_kw"] = round(power_kw * share, 3)
        return values


class WaterMeterModel:
    """A plant water meter: base use plus mould cooling make-up of running moulding machines."""

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "flow_l_min": SignalInfo("l/min", 0, 200), "volume_m3": SignalInfo("m3", 0, 1e6)}

    def __init__(self, *, name: str, rng: random.Random) -> None:
        self.name = name
        self._rng = rng
        self.volume_m3 = rng.uniform(100, 500)

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        flow = max(0.0, 4.0 + ctx.cooling_water_l_min + self._rng.gauss(0, 0.5))
        self.volume_m3 += flow * dt_s / 60_000.0
        return {"flow_l_min": round(flow, 2), "volume_m3": round(self.volume_m3, 4)}


class EnvSensorModel:
    """A shop-floor environment sensor: temperature follows the daily cycle; humidity falls as it warms."""

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "temp_c": SignalInfo("degC", -20, 60), "humidity_pct": SignalInfo("%", 0, 100)}

    def __init__(self, *, name: str, rng: random.Random) -> None:
        self.name = name
        self._rng = rng
        self._offset_c = rng.gauss(0, 0.5)  # placement: each sensor sits somewhere a bit warmer or cooler

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        temp_c = ctx.ambient_c + self._offset_c + self._rng.gauss(0, 0.1)
        # Relative humidity drops about 3 %/K at constant absolute humidity around 20 °C.
        humidity = 50.0 - 3.0 * (temp_c - 22.0) + self._rng.gauss(0, 0.5)
        return {"temp_c": round(temp_c, 2), "humidity_pct": round(min(100.0, max(0.0, humidity)), 1)}


class GaugeModel:
    """An in-line gauge measuring every part its machine finishes: the SPC feed.

    Bore diameter: fresh tools are set to the upper half of the tolerance (+6 µm) so wear
    can use the band; flank wear VB undersizes the bore by about 2·VB·tan(α) (α the
    clearance angle), 20 µm at end of life here. Length: axial thermal growth of the
    spindle moves the tool tip by about 1.5 µm/K (the order reported by Mayr et al.,
    "Thermal issues in machine tools", CIRP Annals 61(2), 2012).
    """

    SIGNALS: ClassVar[dict[str, SignalInfo]] = {
        "serial": SignalInfo("", 0, 0),
        "bore_diameter_mm": SignalInfo("mm", 19.9, 20.1),
        "length_mm": SignalInfo("mm", 49.9, 50.1),
    }
    NOMINAL: ClassVar[dict[str, float]] = {"bore_diameter_mm": 20.0, "length_mm": 50.0}
    # Process plus gauge repeatability, standard deviation in mm.
    NOISE_SD: ClassVar[dict[str, float]] = {"bore_diameter_mm": 0.0018, "length_mm": 0.003}
    REFERENCE_TEMP_C = 38.0

    def __init__(self, *, name: str, rng: random.Random, machine: str | None) -> None:
        self.name = name
        self._rng = rng
        self.machine = machine
        self.last: list[tuple[float, dict[str, Value]]] = []

    def noise_sd(self, signal: str) -> float:
        """The standard deviation of a characteristic in normal production."""
        return self.NOISE_SD.get(signal, 0.0)

    def step(self, dt_s: float, ctx: PlantContext) -> dict[str, Value]:
        rng = self._rng
        self.last = []
        for part in ctx.parts.get(self.machine or "", []):
            dtemp_k = part.spindle_temp_c - self.REFERENCE_TEMP_C
            bore = 20.006 - 0.020 * part.tool_wear + 0.0002 * dtemp_k + rng.gauss(0, self.NOISE_SD["bore_diameter_mm"])
            length = 50.0 - 0.0015 * dtemp_k + rng.gauss(0, self.NOISE_SD["length_mm"])
            self.last.append((part.t_s, {"serial": part.serial, "bore_diameter_mm": round(bore, 5),
                                         "length_mm": round(length, 5)}))
        return self.last[-1][1] if self.last else {"serial": "", "bore_diameter_mm": None, "length_mm": None}


MODEL_TYPES = ("cnc", "injection_moulding", "compressor", "energy_meter", "main_meter", "water_meter",
               "env_sensor", "gauge")
