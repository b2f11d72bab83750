"""Physics-lite signal models for simulated machines and meters.

A model produces, at each tick, the current values of the signals it knows. Assets in
the plant file pick a model by their `type`; signals a model does not know get a bounded
random walk, so any plant file can be simulated. Models are deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Protocol

from twin.readings import Value


class SignalModel(Protocol):
    """Computes signal values; `step` advances the model by dt_s seconds of plant time."""

    def step(self, dt_s: float) -> dict[str, Value]: ...


class RandomWalk:
    """Bounded random walk for signals without a physical model."""

    def __init__(self, signals: Iterable[str], *, rng: random.Random) -> None:
        self._rng = rng
        self._values = {name: 50.0 for name in signals}

    def step(self, dt_s: float) -> dict[str, Value]:
        for name, value in self._values.items():
            self._values[name] = min(100.0, max(0.0, value + self._rng.gauss(0, 1.0)))
        return {k: round(v, 3) for k, v in self._values.items()}


class CncModel:
    """A CNC machining centre cycling through parts: speed, load, vibration, heat, power.

    Power follows load (P = P_standby + k·load), temperature approaches a load-dependent
    equilibrium with a first-order lag, so the signals move together as on a real machine.
    """

    CYCLE_S = 40.0
    STANDBY_KW = 2.5

    def __init__(self, *, rng: random.Random) -> None:
        self._rng = rng
        self._t_s = 0.0
        self._parts = 0
        self._spindle_temp_c = 30.0
        self._coolant_temp_c = 22.0

    def step(self, dt_s: float) -> dict[str, Value]:
        rng = self._rng
        self._t_s += dt_s
        phase = (self._t_s % self.CYCLE_S) / self.CYCLE_S
        cutting = phase < 0.8
        if phase < 0.8 <= phase + dt_s / self.CYCLE_S:
            self._parts += 1
        speed_rpm = 8000.0 + rng.gauss(0, 25) if cutting else 0.0
        load_pct = max(0.0, 55.0 + 15 * math.sin(2 * math.pi * phase) + rng.gauss(0, 2)) if cutting else 0.0
        # First-order thermal lag toward a load-dependent equilibrium (time constant 600 s).
        target_c = 30.0 + 0.35 * load_pct
        self._spindle_temp_c += (target_c - self._spindle_temp_c) * min(1.0, dt_s / 600.0)
        self._coolant_temp_c += (22.0 + 0.05 * load_pct - self._coolant_temp_c) * min(1.0, dt_s / 300.0)
        vibration = (1.2 + 0.01 * load_pct if cutting else 0.15) + abs(rng.gauss(0, 0.05))
        power_kw = self.STANDBY_KW + 0.25 * load_pct + rng.gauss(0, 0.1)
        return {
            "state": "running" if cutting else "idle",
            "spindle_speed": round(speed_rpm, 1),
            "spindle_load": round(load_pct, 2),
            "vibration_rms": round(vibration, 4),
            "spindle_temp": round(self._spindle_temp_c + rng.gauss(0, 0.05), 2),
            "coolant_temp": round(self._coolant_temp_c + rng.gauss(0, 0.05), 2),
            "motor_current": round(power_kw * 1000 / (math.sqrt(3) * 400 * 0.9), 2),
            "power_kw": round(power_kw, 3),
            "part_count": self._parts,
        }


class EnergyMeterModel:
    """A three-phase energy meter: power around a base load, and its cumulative kWh counter."""

    def __init__(self, *, rng: random.Random, base_kw: float = 15.0) -> None:
        self._rng = rng
        self._base_kw = base_kw
        self._energy_kwh = rng.uniform(1000, 5000)

    def step(self, dt_s: float) -> dict[str, Value]:
        power_kw = max(0.0, self._base_kw + self._rng.gauss(0, 0.8))
        self._energy_kwh += power_kw * dt_s / 3600.0
        voltage_v = 400.0 + self._rng.gauss(0, 1.5)
        pf = 0.9 + self._rng.gauss(0, 0.01)
        return {
            "power_kw": round(power_kw, 3),
            "energy_kwh": round(self._energy_kwh, 4),
            "voltage_v": round(voltage_v, 2),
            "current_a": round(power_kw * 1000 / (math.sqrt(3) * voltage_v * pf), 3),
            "power_factor": round(pf, 4),
        }


class CombinedModel:
    """A known physical model plus random walks for the signals it does not produce."""

    def __init__(self, model: SignalModel, wanted: list[str], *, rng: random.Random) -> None:
        self._model = model
        self._wanted = wanted
        known = model.step(0.0)
        self._extra = RandomWalk([s for s in wanted if s not in known], rng=rng)

    def step(self, dt_s: float) -> dict[str, Value]:
        values = self._model.step(dt_s)
        values.update(self._extra.step(dt_s))
        return {k: values[k] for k in self._wanted}


def model_for(asset_type: str, signals: list[str], *, rng: random.Random) -> SignalModel:
    """The model for an asset type (cnc, energy_meter, ...), random walks for the rest."""
    base: SignalModel
    if asset_type == "cnc":
        base = CncModel(rng=rng)
    elif asset_type == "energy_meter":
        base = EnergyMeterModel(rng=rng)
    else:
        return RandomWalk(signals, rng=rng)
    return CombinedModel(base, signals, rng=rng)
