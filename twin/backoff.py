"""Capped exponential backoff with jitter, for reconnect loops.

Full jitter (a uniform draw between 0 and the capped exponential) spreads reconnecting
clients apart after a broker or server restart, so they do not stampede it in lockstep
(M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). A floor keeps
a loop from ever spinning tight.

`ReconnectPolicy` adds a fast phase in front of it for servers that usually come back
within seconds (an OPC UA server restart): short retries first, then the backoff.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


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


class ReconnectPolicy:
    """When to retry a lost server: fast, jittered retries early in an outage, then `Backoff`.

    Most outages of a plant server are restarts (a service restart, a firmware update, a
    PLC power cycle) that last seconds; retrying every `fast_delay_s` or sooner for the
    first `fast_phase_s` of an outage puts the client back within about that long of the
    server. An outage that outlasts the fast phase is likely a fault (network, host down),
    and the delays then grow with full jitter up to `cap_s`, so a server that comes back
    is not met by every client at once. Fast delays are jittered too, uniformly in
    [fast_delay_s / 2, fast_delay_s], for the same reason. Call `reset()` on success: the
    next failure starts a new outage.
    """

    def __init__(self, *, fast_delay_s: float = 0.5, fast_phase_s: float = 120.0, base_s: float = 1.0,
                 cap_s: float = 30.0, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < fast_delay_s <= cap_s or fast_phase_s < 0:
            raise ValueError("need 0 < fast_delay_s <= cap_s and fast_phase_s >= 0")
        self.fast_delay_s = fast_delay_s
        self.fast_phase_s = fast_phase_s
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._slow = Backoff(base_s=base_s, cap_s=cap_s, floor_s=min(fast_delay_s, base_s), rng=self._rng)
        self._outage_since: float | None = None

    @property
    def outage_s(self) -> float:
        """How long the current outage has lasted (0 when there is none)."""
        return 0.0 if self._outage_since is None else self._clock() - self._outage_since

    @property
    def in_fast_phase(self) -> bool:
        """Whether the next delay is a fast one."""
        return self.outage_s < self.fast_phase_s

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds (the first call starts the outage clock)."""
        if self._outage_since is None:
            self._outage_since = self._clock()
        if self.in_fast_phase:
            return self._rng.uniform(self.fast_delay_s / 2, self.fast_delay_s)
        return self._slow.next_delay()

    def reset(self) -> None:
        """The server is back: the next failure starts a new outage, in the fast phase."""
        self._outage_since = None
        self._slow.reset()


async def retry_until_done(attempt: Callable[[], Awaitable[T]], *,
                           retry_on: type[BaseException] | tuple[type[BaseException], ...],
                           on_retry: Callable[[BaseException, float], None],
                           backoff: Backoff | None = None) -> T:
    """Await `attempt()` until it returns; after an exception of `retry_on`, call `on_retry(exc, delay)`
    and wait a jittered, capped delay. For I/O that must be done (a checkpoint, an alert event), never given up."""
    backoff = backoff or Backoff(base_s=0.5, cap_s=30)
    while True:
        try:
            return await attempt()
        except retry_on as exc:
            delay = backoff.next_delay()
            on_retry(exc, delay)
            await asyncio.sleep(delay)
