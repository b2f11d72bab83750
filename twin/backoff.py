"""Capped exponential backoff with jitter, for reconnect loops.

Full jitter (a uniform draw between 0 and the capped exponential) spreads reconnecting
clients apart after a broker or server restart, so they do not stampede it in lockstep
(M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). A floor keeps
a loop from ever spinning tight.
"""

from __future__ import annotations

import random


class Backoff:
    """Successive delays: uniform(floor, min(cap, base * 2**attempt)); `reset()` after a success."""

    def __init__(self, *, base_s: float = 0.5, cap_s: float = 30.0, floor_s: float = 0.1,
                 rng: random.Random | None = None) -> None:
        if not 0 < floor_s <= base_s <= cap_s:
            raise ValueError("need 0 < floor_s <= base_s <= cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self.floor_s = floor_s
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Failures since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        return self._rng.uniform(self.floor_s, ceiling)

    def reset(self) -> None:
        """Start again from the base delay (after a successful connection)."""
        self._attempt = 0
