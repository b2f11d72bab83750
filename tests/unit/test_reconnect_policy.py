"""Reconnect policy: fast, jittered retries for the first minutes of an outage, then capped growing backoff."""

from __future__ import annotations

import random

import pytest

from twin.backoff import ReconnectPolicy


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outage(policy: ReconnectPolicy, clock: FakeClock, seconds: float) -> list[tuple[float, float]]:
    """(time into the outage, delay) for each retry of an outage that lasts `seconds`, each attempt failing at once."""
    start, out = clock.now, []
    while clock.now - start < seconds:
        delay = policy.next_delay()
        out.append((clock.now - start, delay))
        clock.now += delay
    return out


def test_fast_phase_retries_at_most_a_second_apart_with_jitter() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(fast_delay_s=0.5, fast_phase_s=120.0, rng=random.Random(1), clock=clock)
    fast = [d for t, d in outage(policy, clock, 120.0) if t < 120.0]
    assert len(fast) > 240  # about three retries a second for two minutes
    assert all(0.25 <= d <= 0.5 for d in fast)
    assert len(set(fast)) == len(fast)  # jittered: clients restarted together do not retry in lockstep
    assert policy.in_fast_phase is False and policy.outage_s >= 120.0


def test_after_the_fast_phase_delays_grow_to_the_cap_and_stay_jittered() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(fast_delay_s=0.5, fast_phase_s=120.0, base_s=1.0, cap_s=30.0,
                             rng=random.Random(2), clock=clock)
    slow = [d for t, d in outage(policy, clock, 1200.0) if t >= 120.0]
    assert all(0.5 <= d <= 30.0 for d in slow)
    # Full jitter: each delay is uniform below a ceiling of 1, 2, 4, … 30 s.
    ceilings = [min(30.0, 2.0 ** k) for k in range(len(slow))]
    assert all(d <= c for d, c in zip(slow, ceilings, strict=True))
    assert max(slow[:3]) <= 4.0 and max(slow[10:]) > 20.0  # grows, and reaches up to the cap
    assert len(set(slow)) == len(slow)


def test_reset_after_success_starts_the_next_outage_fast() -> None:
    clock = FakeClock()
    policy = ReconnectPolicy(rng=random.Random(3), clock=clock)
    outage(policy, clock, 600.0)
    assert not policy.in_fast_phase
    policy.reset()
    assert policy.outage_s == 0.0 and policy.in_fast_phase
    clock.now += 3600  # a long healthy session: the clock starts at the next failure, not at the reset
    assert policy.next_delay() <= 0.5
    clock.now += 119
    assert policy.next_delay() <= 0.5


def test_never_a_tight_loop() -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(fast_delay_s=0)
    with pytest.raises(ValueError):
        ReconnectPolicy(fast_delay_s=60, cap_s=30)
    with pytest.raises(ValueError):
        ReconnectPolicy(base_s=60, cap_s=30)
