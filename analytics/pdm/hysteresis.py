"""Alert state with hysteresis: enter and exit thresholds per level plus a minimum dwell.

A score hovering at a threshold would otherwise raise and clear an alert on every other
sample. Two mechanisms stop that, as in process-alarm practice (ISA-18.2 / EEMUA 191
"deadband" and "on/off delay"):

- a *deadband*: a level is entered at `enter` and left only below `exit` < `enter`;
- a *dwell*: the new state must be indicated by `dwell` consecutive updates before it is
  taken, so one noisy sample neither raises nor clears an alert.

>>> h = AlertHysteresis(levels=(Level("warning", enter=1.0, exit=0.8),), dwell=2)
>>> [h.update(v) for v in (1.2, 0.9, 1.2, 1.2, 0.9, 0.7, 0.7)]
['normal', 'normal', 'normal', 'warning', 'warning', 'warning', 'normal']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class Level:
    """One alert level: entered when the value reaches `enter`, left when it falls below `exit`."""

    name: str
    enter: float
    exit: float

    def __post_init__(self) -> None:
        if not self.exit < self.enter:
            raise ValueError(f"level {self.name}: exit ({self.exit}) must be below enter ({self.enter})")


class AlertHysteresis:
    """Small state machine over ordered levels (normal < level 0 < level 1 < …)."""

    def __init__(self, *, levels: Sequence[Level], dwell: int = 3) -> None:
        if dwell < 1:
            raise ValueError("dwell must be at least 1")
        if any(b.enter <= a.enter for a, b in pairwise(levels)):
            raise ValueError("levels must be ordered by increasing enter threshold")
        self.levels = tuple(levels)
        self.dwell = dwell
        self._index = -1  # -1 = normal
        self._candidate = -1
        self._count = 0

    def __repr__(self) -> str:
        return f"AlertHysteresis(levels={self.levels!r}, dwell={self.dwell})"

    @property
    def state(self) -> str:
        """Current state name."""
        return NORMAL if self._index < 0 else self.levels[self._index].name

    @property
    def level(self) -> int:
        """Current level number: 0 normal, 1 the first level, …"""
        return self._index + 1

    def _indicated(self, value: float) -> int:
        """The level the value points to, given the current level (the deadband lives here)."""
        idx = self._index
        # Upwards: the highest level whose enter threshold is reached.
        for i in range(len(self.levels) - 1, idx, -1):
            if value >= self.levels[i].enter:
                return i
        # Downwards: fall while below the exit threshold of the current level.
        while idx >= 0 and value < self.levels[idx].exit:
            idx -= 1
        return idx

    def update(self, value: float) -> str:
        """Feed one value; return the (possibly unchanged) state.

        A streak of `dwell` updates pointing the same way (up or down) moves the state to
        the least extreme level seen in the streak, so a value wavering between two levels
        above normal still raises the lower one.
        """
        target = self._indicated(value)
        if target == self._index:
            self._candidate, self._count = self._index, 0
            return self.state
        up = target > self._index
        if self._count and (self._candidate > self._index) == up:
            self._candidate = min(self._candidate, target) if up else max(self._candidate, target)
            self._count += 1
        else:
            self._candidate, self._count = target, 1
        if self._count >= self.dwell:
            self._index, self._count = self._candidate, 0
        return self.state

    def restore(self, level: int) -> None:
        """Put the machine at a level (0 normal, 1 first level, …), e.g. after a model reload."""
        if not 0 <= level <= len(self.levels):
            raise ValueError(f"level {level} outside 0..{len(self.levels)}")
        self._index, self._candidate, self._count = level - 1, level - 1, 0

    def reset(self) -> None:
        """Back to normal (e.g. after maintenance replaced the part)."""
        self._index, self._candidate, self._count = -1, -1, 0

    def dump_state(self) -> dict[str, Any]:
        """Level, candidate and dwell count, JSON-able (what a checkpoint keeps: a restart neither raises nor
        clears an alert, and a streak towards a change goes on counting)."""
        return {"index": self._index, "candidate": self._candidate, "count": self._count}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of a machine with the same levels."""
        index, candidate, count = int(state["index"]), int(state["candidate"]), int(state["count"])
        if not (-1 <= index < len(self.levels) and -1 <= candidate < len(self.levels) and 0 <= count < self.dwell):
            raise ValueError(f"hysteresis state {state!r} does not fit {len(self.levels)} levels, dwell {self.dwell}")
        self._index, self._candidate, self._count = index, candidate, count
