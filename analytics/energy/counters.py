"""Energy from meter data: cumulative kWh counters (roll-over, reset, gap) and power integration.

Two streaming integrators with one verb, `update(ts, value) -> EnergyInterval | None`, so the
streaming service feeds them reading by reading and the report feeds them a fetched series
through `energy_from_counter` / `energy_from_power`.

Rules (the same for both, so a dashboard means one thing):

* Duplicate or older timestamps are ignored: at-least-once delivery re-sends readings, and
  a replayed reading must not count twice.
* Samples further apart than `max_interval_s` make one *gap* interval from the last sample
  to the new one. For a counter its energy is the counter delta — known exactly, counted
  once, flagged `gap=True` — never spread over invented intermediate samples. For power, the
  energy across the gap is not measured: by default it is the trapezoid over the gap
  (flagged `gap=True, estimated=True`), or zero with `gap_policy="zero"`.
* A counter that drops is a roll-over when the previous value was within
  `rollover_window_kwh` of `counter_max_kwh` and the new one is within the same window of
  zero; the energy is `(counter_max - prev) + resolution + new`, because a register that
  shows 999999.9 steps to 000000.0 by one resolution step (0.1 kWh).
* Any other drop is a reset (meter reset, replaced, or re-commissioned). If the new value is
  near zero (≤ `reset_near_zero_kwh`) it is the energy since the reset and is counted; if not,
  the counter's new origin is unknown and the interval counts 0 kWh. Either way the energy
  between the last reading and the reset itself is lost and the interval says so
  (`lost_kwh_unknown=True`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from analytics.energy.errors import ConfigError
from analytics.energy.intervals import EnergyInterval, IntervalKind, require_aware

log = logging.getLogger(__name__)

#: Default maximum spacing of samples before an interval counts as a gap: 15 min, the
#: demand interval of Chinese two-part industrial tariffs (maximum demand is metered over
#: 15-minute windows), so a meter read at least that often is considered continuous.
DEFAULT_MAX_INTERVAL_S = 900.0

GapPolicy = Literal["trapezoid", "zero"]


@dataclass(frozen=True, slots=True)
class CounterSettings:
    """How to read one cumulative kWh register.

    `counter_max_kwh` is the largest value the register shows (999999.9 for a 6+1 digit
    register); None when the counter never wraps (e.g. a 64-bit float register).
    """

    counter_max_kwh: float | None = None
    resolution_kwh: float = 0.1
    rollover_window_kwh: float | None = None
    reset_near_zero_kwh: float = 1.0
    max_interval_s: float = DEFAULT_MAX_INTERVAL_S

    def __post_init__(self) -> None:
        if self.counter_max_kwh is not None and self.counter_max_kwh <= 0:
            raise ConfigError(f"counter_max_kwh must be positive, got {self.counter_max_kwh}")
        if self.resolution_kwh < 0:
            raise ConfigError(f"resolution_kwh must be >= 0, got {self.resolution_kwh}")
        if self.max_interval_s <= 0:
            raise ConfigError(f"max_interval_s must be positive, got {self.max_interval_s}")

    @property
    def window_kwh(self) -> float:
        """Band near the top and bottom of the register inside which a drop is a roll-over.

        Default: 1 % of the register range — far more than any meter advances between two
        readings, far less than a plausible reset value.
        """
        if self.rollover_window_kwh is not None:
            return self.rollover_window_kwh
        return 0.01 * self.counter_max_kwh if self.counter_max_kwh is not None else 0.0


class CounterIntegrator:
    """Turns cumulative counter readings into energy intervals; `update` one reading at a time."""

    def __init__(self, settings: CounterSettings | None = None) -> None:
        self.settings = settings if settings is not None else CounterSettings()
        self._last: tuple[datetime, float] | None = None

    def __repr__(self) -> str:
        return f"CounterIntegrator(settings={self.settings!r})"

    @property
    def last(self) -> tuple[datetime, float] | None:
        """The last accepted (UTC timestamp, counter kWh), or None before the first reading."""
        return self._last

    def dump_state(self) -> dict[str, Any]:
        """The last reading, JSON-able: where the next interval starts after a restart (no gap, no double count)."""
        return {"last": _last_state(self._last)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        self._last = _last_from(state["last"])

    def update(self, ts: datetime, counter_kwh: float) -> EnergyInterval | None:
        """Take one reading; return the interval since the previous reading, or None."""
        ts = require_aware(ts)
        if self._last is None:
            self._last = (ts, counter_kwh)
            return None
        prev_ts, prev_kwh = self._last
        if ts <= prev_ts:
            log.debug("ignoring reading at %s: not after %s (duplicate or out of order)", ts, prev_ts)
            return None
        self._last = (ts, counter_kwh)
        s = self.settings
        gap = (ts - prev_ts).total_seconds() > s.max_interval_s
        delta_kwh = counter_kwh - prev_kwh
        if delta_kwh >= 0:
            kind = IntervalKind.GAP if gap else IntervalKind.NORMAL
            return EnergyInterval(prev_ts, ts, delta_kwh, kind=kind, gap=gap)
        if (
            s.counter_max_kwh is not None
            and prev_kwh >= s.counter_max_kwh - s.window_kwh
            and counter_kwh <= s.window_kwh
        ):
            energy_kwh = (s.counter_max_kwh - prev_kwh) + s.resolution_kwh + counter_kwh
            return EnergyInterval(prev_ts, ts, energy_kwh, kind=IntervalKind.ROLLOVER, gap=gap)
        counted_kwh = counter_kwh if counter_kwh <= s.reset_near_zero_kwh else 0.0
        log.warning("counter reset between %s (%.3f kWh) and %s (%.3f kWh); counting %.3f kWh",
                    prev_ts, prev_kwh, ts, counter_kwh, counted_kwh)
        return EnergyInterval(prev_ts, ts, counted_kwh, kind=IntervalKind.RESET, gap=gap, lost_kwh_unknown=True)


class PowerIntegrator:
    """Integrates power samples (kW) into energy intervals by the trapezoidal rule."""

    def __init__(self, *, max_interval_s: float = DEFAULT_MAX_INTERVAL_S, gap_policy: GapPolicy = "trapezoid") -> None:
        if max_interval_s <= 0:
            raise ConfigError(f"max_interval_s must be positive, got {max_interval_s}")
        if gap_policy not in ("trapezoid", "zero"):
            raise ConfigError(f"gap_policy must be 'trapezoid' or 'zero', got {gap_policy!r}")
        self.max_interval_s = max_interval_s
        self.gap_policy = gap_policy
        self._last: tuple[datetime, float] | None = None

    def __repr__(self) -> str:
        return f"PowerIntegrator(max_interval_s={self.max_interval_s!r}, gap_policy={self.gap_policy!r})"

    @property
    def last(self) -> tuple[datetime, float] | None:
        """The last accepted (UTC timestamp, power kW), or None before the first reading."""
        return self._last

    def dump_state(self) -> dict[str, Any]:
        """The last sample, JSON-able."""
        return {"last": _last_state(self._last)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        self._last = _last_from(state["last"])

    def update(self, ts: datetime, power_kw: float) -> EnergyInterval | None:
        """Take one power sample; return the interval since the previous sample, or None."""
        ts = require_aware(ts)
        if self._last is None:
            self._last = (ts, power_kw)
            return None
        prev_ts, prev_kw = self._last
        if ts <= prev_ts:
            log.debug("ignoring power sample at %s: not after %s", ts, prev_ts)
            return None
        self._last = (ts, power_kw)
        dt_s = (ts - prev_ts).total_seconds()
        # Trapezoidal rule: E = (P0 + P1) / 2 · Δt, with Δt in hours for kWh.
        trapezoid_kwh = (prev_kw + power_kw) / 2.0 * dt_s / 3600.0
        if dt_s <= self.max_interval_s:
            return EnergyInterval(prev_ts, ts, trapezoid_kwh)
        energy_kwh = trapezoid_kwh if self.gap_policy == "trapezoid" else 0.0
        return EnergyInterval(prev_ts, ts, energy_kwh, kind=IntervalKind.GAP, gap=True, estimated=True)


def _last_state(last: tuple[datetime, float] | None) -> list[Any] | None:
    return [last[0].isoformat(), last[1]] if last is not None else None


def _last_from(s: list[Any] | None) -> tuple[datetime, float] | None:
    return (require_aware(datetime.fromisoformat(s[0])), float(s[1])) if s is not None else None


def energy_from_counter(samples: Iterable[tuple[datetime, float]],
                        settings: CounterSettings | None = None) -> list[EnergyInterval]:
    """Energy intervals from (timestamp, cumulative kWh) samples in time order."""
    integrator = CounterIntegrator(settings)
    return [iv for ts, v in samples if (iv := integrator.update(ts, v)) is not None]


def energy_from_power(samples: Iterable[tuple[datetime, float]], *, max_interval_s: float = DEFAULT_MAX_INTERVAL_S,
                      gap_policy: GapPolicy = "trapezoid") -> list[EnergyInterval]:
    """Energy intervals from (timestamp, kW) samples in time order."""
    integrator = PowerIntegrator(max_interval_s=max_interval_s, gap_policy=gap_policy)
    return [iv for ts, v in samples if (iv := integrator.update(ts, v)) is not None]
