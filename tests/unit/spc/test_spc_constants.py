"""Control-chart constants against the printed tables and against numerical integration."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, stats

from analytics.spc.constants import MAX_SUBGROUP, c4, d2, factors
from analytics.spc.errors import SpcConfigError

# Montgomery, Introduction to SQC, 7th ed., Appendix VI (= ASTM E2587 Table 1), as printed.
# n: (A2, A3, c4, B3, B4, d2, d3, D3, D4)
TABLE = {
    2: (1.880, 2.659, 0.7979, 0.0, 3.267, 1.128, 0.853, 0.0, 3.267),
    3: (1.023, 1.954, 0.8862, 0.0, 2.568, 1.693, 0.888, 0.0, 2.574),
    4: (0.729, 1.628, 0.9213, 0.0, 2.266, 2.059, 0.880, 0.0, 2.282),
    5: (0.577, 1.427, 0.9400, 0.0, 2.089, 2.326, 0.864, 0.0, 2.114),
    6: (0.483, 1.287, 0.9515, 0.030, 1.970, 2.534, 0.848, 0.0, 2.004),
    7: (0.419, 1.182, 0.9594, 0.118, 1.882, 2.704, 0.833, 0.076, 1.924),
    10: (0.308, 0.975, 0.9727, 0.284, 1.716, 3.078, 0.797, 0.223, 1.777),
    25: (0.153, 0.606, 0.9896, 0.565, 1.435, 3.931, 0.708, 0.459, 1.541),
}


@pytest.mark.parametrize("n", sorted(TABLE))
def test_factors_match_the_printed_table(n: int) -> None:
    A2, A3, c4_t, B3, B4, d2_t, d3_t, D3, D4 = TABLE[n]
    f = factors(n)
    # d2, d3, c4 are tabled directly: they must round to the printed digits.
    assert f.d2 == pytest.approx(d2_t, abs=5e-4)
    assert f.d3 == pytest.approx(d3_t, abs=5e-4)
    assert f.c4 == pytest.approx(c4_t, abs=5e-5)
    # The printed factors were computed from 3-decimal d2/d3, so allow that rounding too.
    for ours, printed in ((f.A2, A2), (f.A3, A3), (f.B3, B3), (f.B4, B4), (f.D3, D3), (f.D4, D4)):
        assert ours == pytest.approx(printed, abs=1.5e-3)


def test_n5_constants_used_by_the_xbar_r_example() -> None:
    f = factors(5)
    assert round(f.A2, 3) == 0.577
    assert f.D3 == 0.0
    assert round(f.D4, 3) == 2.114


@pytest.mark.parametrize("n", range(2, MAX_SUBGROUP + 1))
def test_d2_agrees_with_numerical_integration(n: int) -> None:
    # Tippett (1925): d2 = ∫ 1 − Φ(x)^n − (1 − Φ(x))^n dx.
    value, _ = integrate.quad(lambda x: 1 - stats.norm.cdf(x) ** n - stats.norm.sf(x) ** n, -12, 12)
    assert d2(n) == pytest.approx(value, abs=1e-5)


def test_c4_is_exact() -> None:
    # c4(2) = sqrt(2/π) exactly.
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)


@pytest.mark.parametrize("n", [0, 1, 26])
def test_subgroup_size_outside_the_table_is_refused(n: int) -> None:
    with pytest.raises(SpcConfigError, match="subgroup size"):
        factors(n)
