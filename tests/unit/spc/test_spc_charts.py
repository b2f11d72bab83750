"""Chart limits and statistics against hand computations and published examples."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest

from analytics.spc.charts import (
    CChart,
    CusumChart,
    EwmaChart,
    IndividualsChart,
    NpChart,
    PChart,
    UChart,
    XbarRChart,
)
from analytics.spc.errors import SpcConfigError, SpcDataError
from analytics.spc.phase1 import ChartSpec, Samples, build_chart, phase_one, run_chart

# Five subgroups of n = 5. By hand: means 10.00, 10.10, 9.90, 10.10, 10.00 → x̿ = 10.02;
# ranges 0.4, 0.4, 0.4, 0.5, 0.4 → R̄ = 0.42.
SUBGROUPS = (
    (10.2, 9.9, 10.1, 10.0, 9.8),
    (10.1, 10.3, 9.9, 10.0, 10.2),
    (9.7, 10.0, 9.9, 10.1, 9.8),
    (10.0, 10.4, 10.1, 9.9, 10.1),
    (9.9, 10.0, 9.8, 10.2, 10.1),
)


def test_xbar_r_limits_match_hand_computation_with_tabled_constants() -> None:
    p1 = phase_one(ChartSpec(kind="xbar-r"), Samples(subgroups=SUBGROUPS))
    assert p1.excluded == ()
    chart = build_chart(ChartSpec(kind="xbar-r"), p1.limits, subgroup_size=5)
    points = run_chart(chart, Samples(subgroups=SUBGROUPS))
    xbarbar, rbar = 10.02, 0.42
    # A2 = 0.577, D3 = 0, D4 = 2.114 (Montgomery Appendix VI, n = 5); tolerance covers table rounding.
    assert points[0].center == pytest.approx(xbarbar, abs=1e-9)
    assert points[0].ucl == pytest.approx(xbarbar + 0.577 * rbar, abs=3e-4)
    assert points[0].lcl == pytest.approx(xbarbar - 0.577 * rbar, abs=3e-4)
    r = points[0].dispersion
    assert r is not None and r.chart == "r"
    assert r.center == pytest.approx(rbar, abs=1e-9)
    assert r.ucl == pytest.approx(2.114 * rbar, abs=3e-4)
    assert r.lcl == 0.0
    assert [p.statistic for p in points] == pytest.approx([10.0, 10.1, 9.9, 10.1, 10.0])
    assert [p.dispersion.statistic for p in points if p.dispersion] == pytest.approx([0.4, 0.4, 0.4, 0.5, 0.4])


def test_xbar_s_limits_match_hand_computation_with_tabled_constants() -> None:
    p1 = phase_one(ChartSpec(kind="xbar-s"), Samples(subgroups=SUBGROUPS))
    sbar = statistics.fmean(statistics.stdev(g) for g in SUBGROUPS)
    chart = build_chart(ChartSpec(kind="xbar-s"), p1.limits, subgroup_size=5)
    point = run_chart(chart, Samples(subgroups=SUBGROUPS))[0]
    # A3 = 1.427, B3 = 0, B4 = 2.089 for n = 5 (Montgomery Appendix VI).
    assert point.ucl == pytest.approx(10.02 + 1.427 * sbar, abs=5e-4 * sbar + 1e-9)
    assert point.lcl == pytest.approx(10.02 - 1.427 * sbar, abs=5e-4 * sbar + 1e-9)
    assert point.dispersion is not None
    assert point.dispersion.ucl == pytest.approx(2.089 * sbar, abs=5e-4 * sbar)
    assert point.dispersion.lcl == 0.0
    assert point.dispersion.statistic == pytest.approx(statistics.stdev(SUBGROUPS[0]))


def test_xbar_chart_buffers_single_measurements_into_subgroups() -> None:
    chart = XbarRChart(mean=10.0, sigma=0.2, n=5)
    returned = [chart.update(v) for v in SUBGROUPS[0]]
    assert returned[:4] == [None] * 4
    point = returned[4]
    assert point is not None and point.statistic == pytest.approx(10.0)
    assert point.ucl == pytest.approx(10.0 + 3 * 0.2 / math.sqrt(5))
    assert chart.pending == 0 and chart.count == 1


def test_individuals_limits_from_moving_ranges_by_hand() -> None:
    # x̄ = 11.6; MR = 2, 1, 2, 1 → MR̄ = 1.5; σ̂ = 1.5/1.128; MR UCL = 3.267·MR̄ (Montgomery §6.4).
    values = [10.0, 12.0, 11.0, 13.0, 12.0]
    p1 = phase_one(ChartSpec(kind="imr"), Samples.individuals(values))
    assert p1.limits.center == pytest.approx(11.6)
    assert p1.limits.sigma == pytest.approx(1.5 / 1.128, rel=5e-4)  # tabled d2(2) = 1.128 is rounded
    point = run_chart(build_chart(ChartSpec(kind="imr"), p1.limits), Samples.individuals(values))[1]
    assert point.ucl == pytest.approx(11.6 + 2.66 * 1.5, abs=2e-3)  # E2 = 3/d2 = 2.66
    assert point.dispersion is not None
    assert point.dispersion.ucl == pytest.approx(3.267 * 1.5, abs=1e-3)
    assert point.dispersion.statistic == 2.0


def test_nist_ewma_example_asymptotic_limits() -> None:
    # NIST/SEMATECH e-Handbook §6.3.2.4: λ = 0.3, target 50, s = 2.0539 → UCL 52.5884, LCL 47.4115.
    chart = EwmaChart(mean=50.0, sigma=2.0539, lam=0.3, L=3.0, limits="asymptotic")
    values = [52.0, 47.0, 53.0]
    points = [chart.update(v) for v in values]
    assert points[-1].ucl == pytest.approx(52.5884, abs=1e-4)
    assert points[-1].lcl == pytest.approx(47.4115, abs=1e-4)
    # z1 = 0.3·52 + 0.7·50 = 50.6; z2 = 0.3·47 + 0.7·50.6 = 49.52; z3 = 0.3·53 + 0.7·49.52 = 50.564.
    assert [p.statistic for p in points] == pytest.approx([50.6, 49.52, 50.564])


def test_ewma_exact_limits_start_narrow_and_approach_the_asymptote() -> None:
    chart = EwmaChart(mean=0.0, sigma=1.0, lam=0.2, L=3.0, limits="exact")
    first = chart.update(0.0)
    # i = 1: λ/(2−λ)·[1 − (1−λ)²] = λ², so the half-width is L·σ·λ (Montgomery §9.2).
    assert first.ucl == pytest.approx(3.0 * 0.2)
    second = chart.update(0.0)
    assert second.ucl == pytest.approx(3.0 * math.sqrt(0.2 / 1.8 * (1 - 0.8 ** 4)))
    for _ in range(200):
        last = chart.update(0.0)
    assert last.ucl == pytest.approx(3.0 * math.sqrt(0.2 / 1.8))


def test_ewma_signal_names_the_limit_rule() -> None:
    chart = EwmaChart(mean=0.0, sigma=1.0, lam=0.5, L=3.0)
    # z = 0, 0.5, 2.25; exact half-widths 1.5, 1.677, 1.718 (L·σ·√(λ/(2−λ)·[1−(1−λ)^{2i}])).
    points = [chart.update(x) for x in (0.0, 1.0, 4.0)]
    assert points[0].violations == () and points[1].violations == ()
    assert [v.rule for v in points[2].violations] == ["ewma_limits"]


def test_cusum_by_hand_and_the_points_since_the_shift_began() -> None:
    # μ = 10, σ = 1, K = 0.5, H = 5: C⁺ = 0, 1.5, 2.0, 3.5, 6.0 → signal at index 4 (Montgomery §9.1).
    chart = CusumChart(mean=10.0, sigma=1.0, k=0.5, h=5.0)
    points = [chart.update(x) for x in (10.5, 12.0, 11.0, 12.0, 13.0)]
    assert [p.statistic for p in points] == pytest.approx([0.0, 1.5, 2.0, 3.5, 6.0])
    assert [p.statistic_lower for p in points] == [0.0] * 5
    assert [bool(p.violations) for p in points] == [False] * 4 + [True]
    (v,) = points[4].violations
    assert v.rule == "cusum_upper" and v.indices == (1, 2, 3, 4)
    assert (points[4].ucl, points[4].lcl) == (5.0, -5.0)


def test_cusum_fast_initial_response_signals_sooner() -> None:
    # Head start H/2 = 2.5 (Lucas & Crosier 1982): C⁺ = 2.5, 4.0, 4.5, 6.0 → signal at index 3.
    chart = CusumChart(mean=10.0, sigma=1.0, k=0.5, h=5.0, headstart=0.5)
    points = [chart.update(x) for x in (10.5, 12.0, 11.0, 12.0)]
    assert [p.statistic for p in points] == pytest.approx([2.5, 4.0, 4.5, 6.0])
    assert points[3].violations[0].rule == "cusum_upper"


def test_cusum_detects_a_downward_shift_on_the_lower_side() -> None:
    chart = CusumChart(mean=0.0, sigma=2.0, k=0.5, h=4.0)  # K = 1, H = 8
    points = [chart.update(-4.0) for _ in range(3)]
    assert [p.statistic_lower for p in points] == pytest.approx([3.0, 6.0, 9.0])
    assert [v.rule for v in points[2].violations] == ["cusum_lower"]


def test_attribute_chart_limits_by_hand() -> None:
    p = PChart(p=0.1).update(15, size=100)
    assert (p.statistic, p.center) == (0.15, 0.1)
    assert (p.lcl, p.ucl) == pytest.approx((0.01, 0.19))  # 0.1 ± 3·√(0.1·0.9/100)
    p50 = PChart(p=0.1).update(5, size=50)
    assert p50.ucl == pytest.approx(0.1 + 3 * math.sqrt(0.09 / 50)) and p50.lcl == 0.0
    np_point = NpChart(p=0.1, n=100).update(20)
    assert (np_point.center, np_point.lcl, np_point.ucl) == pytest.approx((10.0, 1.0, 19.0))
    assert [v.rule for v in np_point.violations] == ["nelson1"]
    c = CChart(c=4.0).update(3)
    assert (c.lcl, c.ucl) == (0.0, 10.0)
    u = UChart(u=2.0).update(12, size=8)
    assert (u.statistic, u.lcl, u.ucl) == pytest.approx((1.5, 0.5, 3.5))


def test_p_chart_phase_one_pools_the_fraction() -> None:
    samples = Samples.attributes([5, 10, 15], [100, 100, 100])
    assert phase_one(ChartSpec(kind="p"), samples).limits.center == pytest.approx(0.1)


@pytest.mark.parametrize("make", [
    lambda: IndividualsChart(mean=0, sigma=0),
    lambda: EwmaChart(mean=0, sigma=1, lam=1.5),
    lambda: EwmaChart(mean=0, sigma=1, limits="wide"),
    lambda: CusumChart(mean=0, sigma=1, headstart=1.0),
    lambda: PChart(p=1.2),
    lambda: XbarRChart(mean=0, sigma=1, n=30),
])
def test_bad_parameters_are_refused(make: object) -> None:
    with pytest.raises(SpcConfigError):
        make()  # type: ignore[operator]


def test_bad_data_is_refused() -> None:
    with pytest.raises(SpcDataError, match="more defectives"):
        phase_one(ChartSpec(kind="p"), Samples.attributes([12], [10]))
    with pytest.raises(SpcDataError, match="needs the inspected size"):
        UChart(u=1.0).update(3)
    with pytest.raises(SpcDataError, match="expects n=5"):
        XbarRChart(mean=0, sigma=1, n=5).update_subgroup([1.0, 2.0])


def test_chart_points_are_frozen() -> None:
    point = IndividualsChart(mean=0, sigma=1).update(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.statistic = 2.0  # type: ignore[misc]
    assert point.as_dict()["ucl"] == 3.0
