"""ISO 50001 energy baseline: regression, expected vs actual, weak-model warning."""

from __future__ import annotations

import pytest

from analytics.energy.baseline import cooling_degree_days, fit_baseline, heating_degree_days
from analytics.energy.errors import DataError


def test_exact_linear_baseline_is_recovered_and_deviation_computed() -> None:
    parts = [300.0, 420.0, 510.0, 380.0, 450.0, 600.0, 330.0, 490.0]
    hdd = [20.0, 5.0, 0.0, 12.0, 8.0, 2.0, 15.0, 0.0]
    energy = [100.0 + 2.0 * p + 5.0 * h for p, h in zip(parts, hdd, strict=True)]
    b = fit_baseline(energy, {"good_parts": parts, "hdd": hdd})
    assert round(b.intercept_kwh, 6) == 100.0
    assert tuple(round(c, 6) for c in b.coefficients) == (2.0, 5.0)
    assert round(b.r2, 9) == 1.0 and not b.weak
    d = b.deviation(1300.0, {"good_parts": 500.0, "hdd": 10.0})
    assert round(d.expected_kwh, 6) == 1150.0
    assert round(d.deviation_kwh, 6) == 150.0
    assert round(d.deviation_pct or 0.0, 6) == 13.043478  # 150 / 1150


def test_weak_model_is_flagged_with_a_warning() -> None:
    parts = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    energy = [10.0, 30.0, 10.0, 30.0, 10.0, 30.0, 10.0, 30.0]  # unrelated to production
    b = fit_baseline(energy, {"good_parts": parts})
    assert b.weak
    assert b.r2 < 0.75
    assert any("weak model" in w for w in b.warnings)


def test_too_few_periods_is_an_error() -> None:
    with pytest.raises(DataError, match="at least 4 periods"):
        fit_baseline([1.0, 2.0, 3.0], {"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]})


def test_degree_days() -> None:
    assert heating_degree_days([10.0, 20.0, 15.0]) == 11.0  # base 18 °C: 8 + 0 + 3
    assert cooling_degree_days([30.0, 20.0, 27.5]) == 5.5  # base 26 °C: 4 + 0 + 1.5
