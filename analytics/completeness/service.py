"""The completeness analytic: expected versus received samples per signal and window, and silence alerts.

For every signal with a `completeness:` section it counts the samples that arrived (any
quality: a Bad sample arrived; `good` counts the usable ones) in windows of `window_s` of
source time, and writes one `completeness` point per window (docs/schema.md): `expected`
(window_s / interval_s), `received`, `good` and `ratio` (received / expected, capped at
1). A window in which nothing arrived is written too, with `received` 0: a gap is a point
on the chart, not a hole in it. The open window is rewritten as it fills (same time and
tags, so it overwrites itself).

The clock is the stream's own: the latest source time seen on any tracked signal (never
more than `MAX_AHEAD_S` ahead of the wall clock, so one device with a clock in the future
cannot make every other signal look silent). So the analytic works the same on live data
and on a simulated history. A signal that has sent nothing for `silence_s` of that clock
raises a warning alert (`completeness:{signal}:silent`), cleared when it sends again. When
the whole stream stops, the clock stops too: that is the alert service's stale-data and
edge-offline checks' case, on the wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from analytics.completeness.config import SignalCompleteness
from analytics.completeness.plugin import completeness_config
from analytics.runtime import Output
from twin.events import AlertEvent, EventState, Severity
from twin.influx import to_line
from twin.plant import Plant
from twin.readings import Quality, Reading
from twin.topics import AssetPath

MAX_AHEAD_S = 300.0
# Zero-sample windows written per signal and batch after a long silence: the rest of a long
# gap is one alert, not thousands of points at once.
MAX_GAP_WINDOWS = 1440


@dataclass(eq=False)  # identity: one track per signal, usable in sets
class _Track:
    asset: AssetPath
    signal: str
    config: SignalCompleteness
    counts: dict[int, list[int]] = field(default_factory=dict)  # window index → [received, good]
    last_ts: datetime | None = None
    written_upto: int | None = None  # highest window index written as closed
    silent: bool = False


class CompletenessAnalytic:
    """An `analytics.runtime.Analytic` (no I/O) over the signals that declare how often they arrive."""

    name = "completeness"

    def __init__(self, tracks: dict[tuple[AssetPath, str], SignalCompleteness]) -> None:
        self._tracks = {key: _Track(key[0], key[1], cfg) for key, cfg in tracks.items()}
        self.clock: datetime | None = None

    @property
    def signals(self) -> list[str]:
        """'asset/signal' of every tracked signal."""
        return [f"{a.asset}/{s}" for a, s in self._tracks]

    def wants(self, reading: Reading) -> bool:
        """Readings of tracked signals."""
        return (reading.asset, reading.signal) in self._tracks

    def process(self, readings: Sequence[Reading]) -> Output:
        """Count the readings, write the windows they touched or closed, raise or clear silence alerts."""
        out = Output()
        touched: set[tuple[_Track, int]] = set()
        limit = datetime.now(UTC) + timedelta(seconds=MAX_AHEAD_S)
        for r in readings:
            track = self._tracks[(r.asset, r.signal)]
            index = self._window(track, r.ts)
            counts = track.counts.setdefault(index, [0, 0])
            counts[0] += 1
            counts[1] += r.quality is Quality.GOOD
            touched.add((track, index))
            if track.last_ts is None or r.ts > track.last_ts:
                track.last_ts = r.ts
            if r.ts <= limit and (self.clock is None or r.ts > self.clock):
                self.clock = r.ts
            if track.silent:
                track.silent = False
                out.events.append(self._event(track, EventState.CLEARED, r.ts,
                                              f"{r.asset.asset} {r.signal}: data arrives again"))
        for track, index in touched:
            out.lines.append(self._line(track, index))
        if self.clock is not None:
            for track in self._tracks.values():
                self._close(track, self.clock, out)
        return out

    def _close(self, track: _Track, now: datetime, out: Output) -> None:
        current = self._window(track, now)
        start = track.written_upto + 1 if track.written_upto is not None else min(track.counts, default=current)
        for index in range(max(start, current - MAX_GAP_WINDOWS), current):
            if index not in track.counts:
                out.lines.append(self._line(track, index))  # nothing arrived: a zero point
        track.written_upto = max(track.written_upto or current - 1, current - 1)
        for index in [i for i in track.counts if i < current - 1]:
            del track.counts[index]
        silence = track.config.silence_s
        since = track.last_ts
        if not track.silent and since is not None and (now - since).total_seconds() > silence:
            track.silent = True
            out.events.append(self._event(track, EventState.FIRING, now,
                                          f"{track.asset.asset} {track.signal}: no data for "
                                          f"{(now - since).total_seconds():.0f} s (expected every "
                                          f"{track.config.interval_s:g} s)", since=since))

    @staticmethod
    def _window(track: _Track, ts: datetime) -> int:
        return math.floor(ts.timestamp() / track.config.window_s)

    @staticmethod
    def _line(track: _Track, index: int) -> str:
        cfg = track.config
        received, good = track.counts.get(index, [0, 0])
        expected = cfg.expected_per_window
        a = track.asset
        ts = datetime.fromtimestamp(index * cfg.window_s, UTC)
        return to_line("completeness", {"site": a.site, "area": a.area, "line": a.line, "asset": a.asset,
                                        "signal": track.signal},
                       {"expected": float(expected), "received": float(received), "good": float(good),
                        "ratio": min(1.0, received / expected)}, ts)

    @staticmethod
    def _event(track: _Track, state: EventState, ts: datetime, message: str,
               since: datetime | None = None) -> AlertEvent:
        details: dict[str, object] = {"signal": track.signal, "interval_s": track.config.interval_s}
        if since is not None:
            details["last_seen"] = since.isoformat()
        return AlertEvent(asset=track.asset, source="completeness", kind="silent", severity=Severity.WARNING,
                          state=state, key=f"completeness:{track.signal}:silent", message=message, ts=ts,
                          details=details)


def build_completeness(plant: Plant) -> CompletenessAnalytic | None:
    """The analytic for every signal with a `completeness:` section; None when the plant has none."""
    tracks = {(sig.asset, sig.name): cfg for sig in plant.signals()
              if (cfg := completeness_config(sig.spec)) is not None}
    return CompletenessAnalytic(tracks) if tracks else None
