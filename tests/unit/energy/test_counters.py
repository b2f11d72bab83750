"""Energy from counters (roll-over, reset, gap) and from power integration, checked by hand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from analytics.energy.counters import CounterIntegrator, CounterSettings, energy_from_counter, energy_from_power
from analytics.energy.errors import DataError
from analytics.energy.intervals import IntervalKind

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
REGISTER = CounterSettings(counter_max_kwh=999999.9, resolution_kwh=0.1, max_interval_s=900.0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_series_with_rollover_reset_and_gap_counts_each_kwh_once() -> None:
    samples = [
        (at(0), 999990.0),
        (at(5), 999995.5),   # +5.5 normal
        (at(10), 999999.9),  # +4.4 normal, register at its maximum
        (at(15), 3.2),       # roll-over: (999999.9 - 999999.9) + 0.1 step to 000000.0 + 3.2 = 3.3
        (at(20), 10.0),      # +6.8 normal
        (at(80), 25.0),      # 60 min > 15 min: one gap interval of +15.0, flagged, not spread
        (at(85), 0.4),       # drop to near zero: reset, 0.4 kWh since the reset counted
        (at(90), 2.0),       # +1.6 normal
    ]
    ivs = energy_from_counter(samples, REGISTER)
    assert [round(i.energy_kwh, 6) for i in ivs] == [5.5, 4.4, 3.3, 6.8, 15.0, 0.4, 1.6]
    assert [i.kind for i in ivs] == [IntervalKind.NORMAL, IntervalKind.NORMAL, IntervalKind.ROLLOVER,
                                     IntervalKind.NORMAL, IntervalKind.GAP, IntervalKind.RESET, IntervalKind.NORMAL]
    assert [i.gap for i in ivs] == [False, False, False, False, True, False, False]
    gap = ivs[4]
    assert (gap.start, gap.end) == (at(20), at(80))  # the whole gap is one interval
    assert ivs[5].lost_kwh_unknown is True
    assert round(sum(i.energy_kwh for i in ivs), 6) == 37.0
    # Intervals tile the time axis: no overlap (no double counting), no hole.
    assert all(a.end == b.start for a, b in itertools.pairwise(ivs))


def test_drop_far_from_zero_is_a_reset_that_counts_nothing() -> None:
    # A replaced meter starting at 5000 kWh: the new origin is unknown, so count 0 and flag.
    ivs = energy_from_counter([(at(0), 120000.0), (at(5), 5000.0), (at(10), 5003.5)], REGISTER)
    assert [round(i.energy_kwh, 6) for i in ivs] == [0.0, 3.5]
    assert ivs[0].kind is IntervalKind.RESET and ivs[0].lost_kwh_unknown and ivs[0].flagged


def test_drop_from_near_max_to_far_from_zero_is_a_reset_not_a_rollover() -> None:
    ivs = energy_from_counter([(at(0), 999999.0), (at(5), 500000.0)], REGISTER)
    assert ivs[0].kind is IntervalKind.RESET
    assert ivs[0].energy_kwh == 0.0


def test_without_counter_max_every_drop_is_a_reset() -> None:
    ivs = energy_from_counter([(at(0), 999999.5), (at(5), 0.5)], CounterSettings())
    assert ivs[0].kind is IntervalKind.RESET
    assert ivs[0].energy_kwh == 0.5


def test_rollover_across_a_gap_is_both_flagged() -> None:
    ivs = energy_from_counter([(at(0), 999999.0), (at(30), 2.0)], REGISTER)
    assert ivs[0].kind is IntervalKind.ROLLOVER and ivs[0].gap
    assert round(ivs[0].energy_kwh, 6) == 3.0  # 0.9 to the max + 0.1 step + 2.0


def test_duplicate_and_out_of_order_readings_are_ignored() -> None:
    ci = CounterIntegrator(REGISTER)
    assert ci.update(at(0), 100.0) is None
    first = ci.update(at(1), 101.0)
    assert ci.update(at(1), 101.0) is None      # at-least-once re-delivery
    assert ci.update(at(0.5), 100.5) is None    # late, older than the last accepted
    second = ci.update(at(2), 102.5)
    assert first is not None and second is not None
    assert (first.energy_kwh, second.energy_kwh) == (1.0, 1.5)
    assert ci.last == (at(2), 102.5)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(DataError, match="no time zone"):
        CounterIntegrator().update(datetime(2026, 3, 2), 1.0)


def test_power_integration_is_trapezoidal_and_gap_is_one_estimated_interval() -> None:
    samples = [(at(0), 10.0), (at(1), 20.0), (at(2), 20.0), (at(22), 40.0)]
    ivs = energy_from_power(samples, max_interval_s=900.0)
    # (10+20)/2 kW × 1/60 h = 0.25; 20 × 1/60 = 0.333333; gap: (20+40)/2 × 20/60 h = 10.0
    assert [round(i.energy_kwh, 6) for i in ivs] == [0.25, 0.333333, 10.0]
    assert [i.gap for i in ivs] == [False, False, True]
    assert ivs[2].estimated and ivs[2].kind is IntervalKind.GAP


def test_power_gap_policy_zero_counts_nothing_across_the_gap() -> None:
    ivs = energy_from_power([(at(0), 20.0), (at(20), 40.0)], max_interval_s=900.0, gap_policy="zero")
    assert ivs[0].energy_kwh == 0.0 and ivs[0].gap
