"""Reconnect backoff: grows exponentially, is capped, is jittered, never zero, resets."""

from __future__ import annotations

import random

from twin.backoff import Backoff


def test_delays_grow_are_capped_and_jittered() -> None:
    b = Backoff(base_s=0.5, cap_s=8.0, floor_s=0.1, rng=random.Random(3))
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.1 <= d <= 8.0 for d in delays)
    assert max(delays[:1]) <= 0.5 and max(delays[:3]) <= 2.0  # ceilings 0.5, 1, 2 …
    late = delays[10:]
    assert max(late) > 7.0 and len(set(late)) == len(late)  # reaches the cap, and jitters
    b.reset()
    assert b.next_delay() <= 0.5
