"""Allocation and energy KPIs: energy by state / product, energy per good part, waste findings.

* Allocation: energy intervals are cut at the edges of labelled time spans (machine states,
  production runs of a product) and each piece goes to the label in force — energy
  proportional to time inside one metered interval, so the allocation sums to the metered
  energy exactly; time not covered by any span goes to `UNASSIGNED`.
* Energy per good part (ISO 50001 energy performance indicator, EnPI): kWh / good parts;
  undefined (None) when no good part was made — a ratio over zero parts is not "infinite
  efficiency", it is no production.
* Waste findings from two streaming detectors with one verb, `update(...)`:
  idle waste — a machine in an idle/standby state drawing more than its standby threshold
  for longer than N minutes; compressed-air leak — a compressor loaded while the plant is not
  producing (nothing legitimately consumes air then, so the load is leakage or a valve left
  open; the classic "weekend leak test" made continuous).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from analytics.energy.errors import ConfigError
from analytics.energy.intervals import EnergyInterval, require_aware, split_at

UNASSIGNED = "(unassigned)"

#: Machine states whose energy counts as idle/standby energy (OMAC PackML-like names used by
#: the twin's machine-state signal; configurable per call).
IDLE_STATES: frozenset[str] = frozenset({"idle", "standby", "stopped", "blocked", "starved"})


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled time span [start, end): a machine state, a product run, a shift."""

    start: datetime
    end: datetime
    label: str


def allocate(intervals: Iterable[EnergyInterval], spans: Sequence[Span]) -> dict[str, float]:
    """Energy (kWh) per span label; energy outside every span goes to UNASSIGNED.

    Spans must not overlap (the first one listed wins where they do).
    """
    edges = sorted({s.start for s in spans} | {s.end for s in spans})
    parts: dict[str, list[float]] = {}
    for iv in intervals:
        for piece in split_at(iv, edges):
            label = next((s.label for s in spans if s.start <= piece.start < s.end), UNASSIGNED)
            parts.setdefault(label, []).append(piece.energy_kwh)
    return {label: math.fsum(v) for label, v in parts.items()}


def idle_energy_kwh(intervals: Iterable[EnergyInterval], states: Sequence[Span],
                    idle_states: frozenset[str] = IDLE_STATES) -> float:
    """Energy consumed while the machine was in one of `idle_states`."""
    by_state = allocate(intervals, states)
    return math.fsum(v for k, v in by_state.items() if k in idle_states)


def kwh_per_good_part(energy_kwh: float, good_parts: float) -> float | None:
    """ISO 50001 EnPI: energy per good part; None when no good part was made."""
    return energy_kwh / good_parts if good_parts > 0 else None


FindingKind = Literal["idle_waste", "air_leak"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A waste episode. `status` is 'open' when first reported (still going) and 'closed' at its end."""

    kind: FindingKind
    asset: str
    start: datetime
    end: datetime
    energy_kwh: float
    mean_power_kw: float
    status: Literal["open", "closed"]

    @property
    def duration_s(self) -> float:
        """Duration of the episode so far (s)."""
        return (self.end - self.start).total_seconds()

    @property
    def key(self) -> str:
        """Dedup key for an alert event (one alert per condition per asset, firing then cleared)."""
        return f"energy:{self.asset}:{self.kind}"

    def details(self) -> dict[str, float | str]:
        """Numbers for an alert event's details."""
        return {"start": self.start.isoformat(), "duration_s": self.duration_s, "energy_kwh": self.energy_kwh,
                "mean_power_kw": self.mean_power_kw}

    @property
    def message(self) -> str:
        """One line for an alert or a report."""
        what = "idle but drawing power" if self.kind == "idle_waste" else "compressor loaded while not producing"
        return (f"{self.asset}: {what} for {self.duration_s / 60:.0f} min, "
                f"{self.energy_kwh:.2f} kWh at {self.mean_power_kw:.2f} kW mean")


class EpisodeDetector:
    """Tracks episodes of a condition with power samples; reports those longer than a minimum.

    Energy inside an episode is integrated by holding each sample's power until the next
    sample (the episode's power is what the meter saw while the condition held).
    """

    def __init__(self, *, kind: FindingKind, asset: str, min_duration_s: float) -> None:
        if min_duration_s <= 0:
            raise ConfigError(f"min_duration_s must be positive, got {min_duration_s}")
        self.kind: FindingKind = kind
        self.asset = asset
        self.min_duration_s = min_duration_s
        self._start: datetime | None = None
        self._prev: tuple[datetime, float] | None = None
        self._energy_kwh = 0.0
        self._reported = False

    def __repr__(self) -> str:
        return f"EpisodeDetector(kind={self.kind!r}, asset={self.asset!r}, min_duration_s={self.min_duration_s!r})"

    @property
    def active_since(self) -> datetime | None:
        """Start of the current episode, or None."""
        return self._start

    def dump_state(self) -> dict[str, Any]:
        """The episode in progress, JSON-able (what a checkpoint keeps)."""
        return {"start": self._start.isoformat() if self._start else None,
                "prev": [self._prev[0].isoformat(), self._prev[1]] if self._prev else None,
                "energy_kwh": self._energy_kwh, "reported": self._reported}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        start = require_aware(datetime.fromisoformat(state["start"])) if state["start"] else None
        prev = state["prev"]
        self._prev = (require_aware(datetime.fromisoformat(prev[0])), float(prev[1])) if prev else None
        self._start, self._energy_kwh, self._reported = start, float(state["energy_kwh"]), bool(state["reported"])

    def update(self, ts: datetime, active: bool, power_kw: float) -> list[Finding]:
        """Take one sample; return the findings it opens or closes."""
        ts = require_aware(ts)
        out: list[Finding] = []
        if self._prev is not None and ts <= self._prev[0]:
            return out
        if self._start is not None and self._prev is not None:
            self._energy_kwh += self._prev[1] * (ts - self._prev[0]).total_seconds() / 3600.0
        if active:
            if self._start is None:
                self._start, self._energy_kwh, self._reported = ts, 0.0, False
            elif not self._reported and (ts - self._start).total_seconds() >= self.min_duration_s:
                self._reported = True
                out.append(self._finding(self._start, ts, "open"))
            self._prev = (ts, power_kw)
        else:
            if self._start is not None and (ts - self._start).total_seconds() >= self.min_duration_s:
                out.append(self._finding(self._start, ts, "closed"))
            self._start, self._prev, self._energy_kwh = None, (ts, power_kw), 0.0
        return out

    def _finding(self, start: datetime, ts: datetime, status: Literal["open", "closed"]) -> Finding:
        hours = (ts - start).total_seconds() / 3600.0
        return Finding(self.kind, self.asset, start, ts, self._energy_kwh,
                       self._energy_kwh / hours if hours > 0 else 0.0, status)


class IdleWasteDetector:
    """A machine idle (or in standby) but drawing more than `standby_threshold_kw` for too long."""

    def __init__(self, *, asset: str, standby_threshold_kw: float, min_duration_s: float = 600.0,
                 idle_states: frozenset[str] = IDLE_STATES) -> None:
        self.standby_threshold_kw = standby_threshold_kw
        self.idle_states = idle_states
        self._episodes = EpisodeDetector(kind="idle_waste", asset=asset, min_duration_s=min_duration_s)

    @property
    def episodes(self) -> EpisodeDetector:
        """The episode tracker (its `dump_state()` is this detector's)."""
        return self._episodes

    def update(self, ts: datetime, power_kw: float, state: str) -> list[Finding]:
        """Take one (power, machine state) sample; return findings opened or closed."""
        active = state in self.idle_states and power_kw > self.standby_threshold_kw
        return self._episodes.update(ts, active, power_kw)


class AirLeakDetector:
    """A compressor loaded (power above `loaded_threshold_kw`) while the plant produces nothing."""

    def __init__(self, *, asset: str, loaded_threshold_kw: float, min_duration_s: float = 1800.0) -> None:
        self.loaded_threshold_kw = loaded_threshold_kw
        self._episodes = EpisodeDetector(kind="air_leak", asset=asset, min_duration_s=min_duration_s)

    @property
    def episodes(self) -> EpisodeDetector:
        """The episode tracker (its `dump_state()` is this detector's)."""
        return self._episodes

    def update(self, ts: datetime, compressor_power_kw: float, plant_producing: bool) -> list[Finding]:
        """Take one sample of compressor power and whether any line is producing."""
        active = (not plant_producing) and compressor_power_kw > self.loaded_threshold_kw
        return self._episodes.update(ts, active, compressor_power_kw)
