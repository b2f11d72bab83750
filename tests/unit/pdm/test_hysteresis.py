"""Alert hysteresis: a value hovering at a threshold does not flap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.pdm.hysteresis import AlertHysteresis, Level


def _transitions(states: list[str]) -> int:
    return sum(a != b for a, b in itertools.pairwise(states))


def test_noisy_value_at_the_threshold_does_not_flap() -> None:
    rng = np.random.default_rng(0)
    values = 1.0 + 0.05 * rng.normal(size=2000)  # hovers right at the enter threshold
    naive = [("warning" if v >= 1.0 else "normal") for v in values]
    h = AlertHysteresis(levels=(Level("warning", enter=1.0, exit=0.8),), dwell=3)
    states = [h.update(float(v)) for v in values]
    assert _transitions(naive) > 500
    assert _transitions(states) == 1  # raised once, then held by the deadband
    assert states[-1] == "warning"


def test_single_spikes_do_not_raise_or_clear() -> None:
    h = AlertHysteresis(levels=(Level("warning", enter=1.0, exit=0.8),), dwell=3)
    assert [h.update(v) for v in (0.1, 5.0, 0.1, 5.0, 5.0, 0.1)] == ["normal"] * 6
    assert [h.update(v) for v in (5.0, 5.0, 5.0)] == ["normal", "normal", "warning"]
    assert [h.update(v) for v in (0.1, 0.1, 2.0, 0.1)] == ["warning"] * 4


def test_levels_escalate_and_fall_back_through_their_own_exits() -> None:
    levels = (Level("warning", enter=1.0, exit=0.8), Level("alarm", enter=10.0, exit=8.0))
    h = AlertHysteresis(levels=levels, dwell=1)
    assert [h.update(v) for v in (0.5, 12.0, 9.0, 7.0, 0.9, 0.7)] == [
        "normal", "alarm", "alarm", "warning", "warning", "normal"]
    h2 = AlertHysteresis(levels=levels, dwell=2)
    # Wavering between warning- and alarm-level values still raises at least the warning.
    assert [h2.update(v) for v in (12.0, 2.0, 12.0)] == ["normal", "warning", "warning"]
    h2.restore(2)
    assert h2.state == "alarm" and h2.level == 2


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="exit"):
        Level("warning", enter=1.0, exit=1.0)
    with pytest.raises(ValueError, match="ordered"):
        AlertHysteresis(levels=(Level("a", 5.0, 4.0), Level("b", 2.0, 1.0)))
