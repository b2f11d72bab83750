"""Environment limits (环): temperature and humidity of sensor assets against limits, with hysteresis.

Each `EnvironmentLimitConfig` watches one signal of one sensor asset. A value above `high`
(or below `low`) fires an alert event; it clears once the value is back inside the limit by
at least `deadband` (fires above 30 °C, clears at or below 29 °C with a 1 °C deadband), so a
value hovering at the limit raises one alert, not one per sample. High and low are separate
conditions with their own keys: `energy:env:{signal}:high` and `energy:env:{signal}:low`.
Readings that are not good, not numeric, or not newer than the last one used are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from analytics.energy.config import EnvironmentLimitConfig
from twin.events import AlertEvent, EventState, Severity
from twin.readings import Reading
from twin.topics import AssetPath

Side = Literal["high", "low"]


@dataclass
class _Watch:
    config: EnvironmentLimitConfig
    path: AssetPath
    firing: Side | None = None
    last_ts: datetime | None = None


class EnvironmentMonitor:
    """Limit checks with hysteresis for environment signals; `update(reading)` returns alert events."""

    def __init__(self, limits: Iterable[EnvironmentLimitConfig], paths: Mapping[str, AssetPath]) -> None:
        self._watches: dict[tuple[str, str], list[_Watch]] = {}
        for cfg in limits:
            path = paths[cfg.asset]
            self._watches.setdefault((str(path), cfg.signal), []).append(_Watch(cfg, path))

    def dump_state(self) -> list[dict[str, Any]]:
        """Which limits are firing and the last source time used per watch, JSON-able."""
        return [{"asset": str(w.path), "signal": w.config.signal, "config": w.config.model_dump(mode="json"),
                 "firing": w.firing, "last_ts": w.last_ts.isoformat() if w.last_ts else None}
                for ws in self._watches.values() for w in ws]

    def load_state(self, state: list[dict[str, Any]]) -> None:
        """Continue from `dump_state()`; watches whose limits changed in the plant file start afresh."""
        saved = {(s["asset"], s["signal"], repr(s["config"])): s for s in state}
        for (asset, signal), ws in self._watches.items():
            for w in ws:
                s = saved.get((asset, signal, repr(w.config.model_dump(mode="json"))))
                if s is None:
                    continue
                if s["firing"] not in (None, "high", "low"):
                    raise ValueError(f"environment limit state {s['firing']!r}")
                w.firing = s["firing"]
                w.last_ts = datetime.fromisoformat(s["last_ts"]) if s["last_ts"] else None

    def watches(self, reading: Reading) -> bool:
        """True when some limit applies to this reading's asset and signal."""
        return (str(reading.asset), reading.signal) in self._watches

    def update(self, reading: Reading) -> list[AlertEvent]:
        """Check one reading against its limits; firing and cleared events on transitions only."""
        value = reading.number
        if value is None:
            return []
        out: list[AlertEvent] = []
        for w in self._watches.get((str(reading.asset), reading.signal), []):
            if w.last_ts is not None and reading.ts <= w.last_ts:
                continue
            w.last_ts = reading.ts
            out.extend(self._check(w, value, reading.ts))
        return out

    def _check(self, w: _Watch, value: float, ts: datetime) -> list[AlertEvent]:
        c = w.config
        out: list[AlertEvent] = []
        if w.firing == "high" and c.high is not None and value <= c.high - c.deadband:
            out.append(self._event(w, "high", value, ts, firing=False))
            w.firing = None
        elif w.firing == "low" and c.low is not None and value >= c.low + c.deadband:
            out.append(self._event(w, "low", value, ts, firing=False))
            w.firing = None
        if w.firing is None:
            side: Side | None = ("high" if c.high is not None and value > c.high
                                 else "low" if c.low is not None and value < c.low else None)
            if side is not None:
                w.firing = side
                out.append(self._event(w, side, value, ts, firing=True))
        return out

    def _event(self, w: _Watch, side: Side, value: float, ts: datetime, *, firing: bool) -> AlertEvent:
        c = w.config
        limit = c.high if side == "high" else c.low
        if firing:
            message = f"{w.path.asset} {c.signal} = {value:g}, {'above' if side == 'high' else 'below'} {limit:g}"
        else:
            message = f"{w.path.asset} {c.signal} = {value:g}, back within {limit:g} (deadband {c.deadband:g})"
        return AlertEvent(asset=w.path, source="energy", kind=f"environment_{side}",
                          severity=Severity(c.severity) if firing else Severity.INFO,
                          state=EventState.FIRING if firing else EventState.CLEARED,
                          key=f"energy:env:{c.signal}:{side}", message=message, ts=ts,
                          details={"signal": c.signal, "value": value, "limit": limit, "deadband": c.deadband})
