"""Simulated ARLs of the production charts agree with published values within Monte Carlo error.

Run counts are chosen so the standard error is 1.5–2.5 % of the ARL: a tolerance of four
standard errors (8–10 %) then separates a correct chart from, e.g., 2.9σ instead of 3σ
limits (ARL₀ 267 vs 370) or C ≥ H-type mistakes at a shift, while the whole file stays
around ten seconds. Seeds are fixed, so the test is deterministic.

Published values: Shewhart 1/0.0027 = 370.4 and 1/(Φ(−4)+Φ(−2)) = 43.9 (Montgomery §5.3.3);
CUSUM k = 0.5, h = 5: 465 and 10.4 (Montgomery ch. 9, tabular-CUSUM ARL table); EWMA λ = 0.1, L = 2.814,
asymptotic limits: 500 and 10.3 (Lucas & Saccucci 1990).
"""

from __future__ import annotations

import pytest

from analytics.spc.arl import chart_factory, simulate_arl
from analytics.spc.charts import CusumChart, EwmaChart, IndividualsChart
from analytics.spc.errors import SpcConfigError

CASES = [
    # chart, options, shift, published ARL, runs, seed
    ("shewhart", {}, 0.0, 370.4, 2500, 101),
    ("shewhart", {}, 1.0, 43.9, 2000, 102),
    ("cusum", {"k": 0.5, "h": 5.0}, 0.0, 465.0, 2000, 103),
    ("cusum", {"k": 0.5, "h": 5.0}, 1.0, 10.4, 2000, 104),
    ("ewma", {"lam": 0.1, "L": 2.814, "ewma_limits": "asymptotic"}, 0.0, 500.0, 2000, 105),
    ("ewma", {"lam": 0.1, "L": 2.814, "ewma_limits": "asymptotic"}, 1.0, 10.3, 2000, 106),
]


@pytest.mark.parametrize(("chart", "options", "shift", "published", "runs", "seed"), CASES,
                         ids=[f"{c[0]}-shift{c[2]:g}" for c in CASES])
def test_simulated_arl_matches_published_value(chart: str, options: dict[str, object], shift: float,
                                               published: float, runs: int, seed: int) -> None:
    result = simulate_arl(chart, shift=shift, runs=runs, seed=seed, **options)  # type: ignore[arg-type]
    # The test is only meaningful if the Monte Carlo error is small against the value.
    assert result.std_error < 0.03 * published
    assert abs(result.arl - published) < 4 * result.std_error, (result.arl, result.std_error)
    assert result.censored == 0 and result.runs == runs


def test_arl_simulation_drives_the_production_chart_classes() -> None:
    assert isinstance(chart_factory("shewhart")[0](), IndividualsChart)
    assert isinstance(chart_factory("ewma")[0](), EwmaChart)
    assert isinstance(chart_factory("cusum", headstart=0.5)[0](), CusumChart)


def test_same_seed_same_answer_and_a_shift_shortens_the_run() -> None:
    a = simulate_arl("cusum", shift=2.0, runs=200, seed=5)
    b = simulate_arl("cusum", shift=2.0, runs=200, seed=5)
    assert a.arl == b.arl and a.std_error == b.std_error
    assert a.arl < simulate_arl("cusum", shift=1.0, runs=200, seed=5).arl


def test_fir_headstart_shortens_the_out_of_control_arl() -> None:
    plain = simulate_arl("cusum", shift=1.0, runs=1000, seed=9)
    fir = simulate_arl("cusum", shift=1.0, runs=1000, seed=9, headstart=0.5)
    # Lucas & Crosier (1982) FIR table (also in Montgomery §9.1): k = 0.5, h = 5 at 1σ: 10.4 without, 6.35 with H/2.
    assert fir.arl < plain.arl - 3.0
    assert abs(fir.arl - 6.35) < 4 * fir.std_error


def test_runs_that_never_signal_are_counted_as_censored() -> None:
    result = simulate_arl("shewhart", shift=0.0, runs=20, seed=1, max_run_length=5)
    assert result.arl <= 5 and result.censored >= 15


def test_arl_refuses_nonsense() -> None:
    with pytest.raises(SpcConfigError):
        simulate_arl("xbar", runs=10)
    with pytest.raises(SpcConfigError):
        simulate_arl("shewhart", runs=1)
