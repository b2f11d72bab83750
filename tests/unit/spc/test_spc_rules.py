"""Each Western Electric and Nelson rule fires on a pattern made to trigger it, and not on a near miss.

Sequences are z-scores fed through the production individuals chart with μ = 0, σ = 1, so
rule 1's limits are ±3 and the zones are at ±1 and ±2.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.spc.charts import IndividualsChart
from analytics.spc.errors import SpcConfigError
from analytics.spc.points import Violation
from analytics.spc.rules import RuleChecker, parse_rules

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def fire(rule: str, values: list[float]) -> list[Violation]:
    chart = IndividualsChart(mean=0.0, sigma=1.0, rules=rule)
    out: list[Violation] = []
    for i, v in enumerate(values):
        out.extend(chart.update(v, T0 + timedelta(minutes=i)).violations)
    return out


ALT_ZONE_C = [0.5 if i % 2 == 0 else -0.5 for i in range(15)]

# rule: (sequence that fires, index of first firing point, indices reported, near miss)
CASES: dict[str, tuple[list[float], int, tuple[int, ...], list[float]]] = {
    "nelson1": ([0.0, 3.01], 1, (1,), [0.0, 3.0, -3.0, 2.99]),
    "we1": ([0.0, -3.2], 1, (1,), [0.0, 3.0, -3.0]),
    "nelson2": ([0.4, 0.8] * 4 + [0.4], 8, tuple(range(9)), [0.4, 0.8] * 4 + [0.0] + [0.4, 0.8] * 4),
    "we4": ([-0.4, -0.8] * 4, 7, tuple(range(8)), [-0.4, -0.8] * 3 + [-0.4, 0.1]),
    "nelson3": ([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5], 5, tuple(range(6)), [-1.0, -0.5, 0.0, 0.5, 1.0, 1.0, 1.5]),
    "nelson4": ([0.5, -0.5] * 7, 13, tuple(range(14)), [0.5, -0.5] * 3 + [0.5, 0.5] + [-0.5, 0.5] * 3),
    "nelson5": ([0.0, 2.1, 0.0, 2.1], 3, (1, 3), [0.0, 2.1, -2.1, 2.0, 0.0, 2.1]),
    "we2": ([0.0, -2.5, -2.1], 2, (1, 2), [-2.5, 0.0, 0.0, -2.5]),
    "nelson6": ([1.1, 1.1, 0.0, 1.1, 1.1], 4, (0, 1, 3, 4), [1.1, 1.1, 0.0, 1.0, 1.1, 0.0, 1.1]),
    "we3": ([-1.5, -1.2, -1.1, -0.2, -1.3], 4, (0, 1, 2, 4), [-1.5, -1.2, 1.1, -0.2, -1.3]),
    "nelson7": (ALT_ZONE_C, 14, tuple(range(15)), [*ALT_ZONE_C[:14], 1.0, *ALT_ZONE_C[:14]]),
    "nelson8": ([1.5, -1.5] * 4, 7, tuple(range(8)), [1.5, -1.5] * 3 + [1.5, -1.0] + [1.5, -1.5] * 3),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_pattern(rule: str) -> None:
    values, first, indices, _ = CASES[rule]
    violations = fire(rule, values)
    assert violations, f"{rule} did not fire"
    v = violations[0]
    assert v.rule == rule
    assert v.index == first
    assert v.indices == indices
    assert v.timestamps == tuple(T0 + timedelta(minutes=i) for i in indices)
    assert v.description


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_does_not_fire_on_a_near_miss(rule: str) -> None:
    _, _, _, near_miss = CASES[rule]
    assert fire(rule, near_miss) == []


def test_nelson2_needs_nine_where_western_electric_4_needs_eight() -> None:
    eight_above = [0.4, 0.8] * 4
    assert [v.index for v in fire("we4", eight_above)] == [7]
    assert fire("nelson2", eight_above) == []


def test_all_nelson_rules_on_a_calm_sequence_report_nothing() -> None:
    calm = [0.3, -1.2, 0.7, 0.1, -0.4, 1.4, -0.9, 0.2, 0.0, -0.3, 1.1, -1.6, 0.5, 0.4, -0.2]
    assert fire("nelson", calm) == []


def test_a_longer_run_keeps_firing_and_reports_its_last_window() -> None:
    violations = fire("nelson2", [0.5] * 11)
    assert [v.index for v in violations] == [8, 9, 10]
    assert violations[-1].indices == tuple(range(2, 11))


def test_violations_name_the_chart() -> None:
    checker = RuleChecker(rules="we", chart="xbar")
    (v,) = checker.update(0, statistic=4.0, z=4.0, beyond_upper=True, beyond_lower=False)
    assert (v.rule, v.chart) == ("we1", "xbar")


def test_rule_sets_parse_and_unknown_rules_are_refused() -> None:
    assert parse_rules("nelson") == tuple(f"nelson{i}" for i in range(1, 9))
    assert parse_rules("we") == ("we1", "we2", "we3", "we4")
    assert parse_rules("nelson1, we4,nelson1") == ("nelson1", "we4")
    assert parse_rules("none") == ()
    with pytest.raises(SpcConfigError, match="unknown rule 'nelson9'"):
        parse_rules("nelson9")


def _brute_force(z: list[float]) -> set[tuple[str, int]]:
    """Reference: every rule checked from its definition over the window ending at each point."""
    fired: set[tuple[str, int]] = set()
    for i, zi in enumerate(z):
        def last(k: int, i: int = i) -> list[float]:
            return z[i - k + 1:i + 1] if i >= k - 1 else []
        if abs(zi) > 3:
            fired |= {("nelson1", i), ("we1", i)}
        for rule, k in (("nelson2", 9), ("we4", 8)):
            w = last(k)
            if w and (all(v > 0 for v in w) or all(v < 0 for v in w)):
                fired.add((rule, i))
        w = last(6)
        if w and (all(b > a for a, b in itertools.pairwise(w))
                  or all(b < a for a, b in itertools.pairwise(w))):
            fired.add(("nelson3", i))
        w = last(14)
        d = [b - a for a, b in itertools.pairwise(w)]
        if w and all(x * y < 0 for x, y in itertools.pairwise(d)):
            fired.add(("nelson4", i))
        s = 1 if zi > 0 else -1
        if abs(zi) > 2 and sum(s * v > 2 for v in z[max(0, i - 2):i + 1]) >= 2:
            fired |= {("nelson5", i), ("we2", i)}
        if abs(zi) > 1 and sum(s * v > 1 for v in z[max(0, i - 4):i + 1]) >= 4:
            fired |= {("nelson6", i), ("we3", i)}
        w = last(15)
        if w and all(abs(v) < 1 for v in w):
            fired.add(("nelson7", i))
        w = last(8)
        if w and all(abs(v) > 1 for v in w):
            fired.add(("nelson8", i))
    return fired


_LEVELS = [-3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_LEVELS), st.floats(-4, 4)), max_size=60))
def test_incremental_rules_agree_with_the_definitions(z: list[float]) -> None:
    checker = RuleChecker(rules="nelson,we")
    got: set[tuple[str, int]] = set()
    for i, v in enumerate(z):
        got |= {(x.rule, x.index) for x in checker.update(i, statistic=v, z=v, beyond_upper=v > 3,
                                                            beyond_lower=v < -3)}
    assert got == _brute_force(z)
