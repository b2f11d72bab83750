"""Baselines on synthetic healthy and degrading bearings: limits hold, degradation is detected."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.pdm.errors import DataError
from analytics.pdm.features import FeatureVector
from analytics.pdm.models import METHODS, PcaT2Q, _q_limit, fit_baseline, health_index
from analytics.pdm.scorer import AssetScorer
from analytics.pdm.synthetic import SIGNALS, bearing_run


@pytest.fixture(scope="module")
def healthy() -> np.ndarray:
    return bearing_run(hours=14 * 24, seed=1).x


@pytest.mark.parametrize("method", METHODS)
def test_healthy_data_stays_mostly_within_the_limit_and_degradation_exceeds_it(method: str,
                                                                                healthy: np.ndarray) -> None:
    model = fit_baseline(healthy, SIGNALS, asset="CNC-03", method=method)  # type: ignore[arg-type]
    fresh = bearing_run(hours=7 * 24, seed=2).x
    exceed = float(np.mean(model.score(fresh) >= 1.0))
    assert exceed < 0.06  # α = 1 % per statistic; a little more on unseen data is expected
    run = bearing_run(hours=1000, onset_h=100, failure_h=300, seed=3)
    late = run.x[run.t_h > 250]
    assert float(np.mean(model.score(late) >= 1.0)) > 0.99


def test_q_limit_matches_the_empirical_quantile_on_gaussian_data() -> None:
    # Jackson & Mudholkar's limit should leave ~α of Gaussian residuals above it.
    rng = np.random.default_rng(4)
    cov = np.diag([9.0, 4.0, 1.0, 0.5, 0.3, 0.2])
    x = rng.multivariate_normal(np.zeros(6), cov, size=20000)
    det = PcaT2Q(alpha=0.01, variance=0.8)
    det.fit(x[:10000])
    t2, q = det.statistics(x[10000:])
    assert np.mean(q > det.q_limit_) == pytest.approx(0.01, abs=0.004)
    assert np.mean(t2 > det.t2_limit_) == pytest.approx(0.01, abs=0.004)
    assert _q_limit(np.array([0.5, 0.3, 0.2]), 0.01) > 0


def test_health_index_mapping() -> None:
    assert health_index(0.3, 100.0) == 100.0
    assert health_index(1.0, 100.0) == 100.0
    assert health_index(10.0, 100.0) == pytest.approx(50.0)
    assert health_index(100.0, 100.0) == pytest.approx(0.0)
    assert health_index(1e6, 100.0) == 0.0
    assert health_index(math.inf, 100.0) == 0.0


def test_missing_feature_is_imputed_not_alarmed(healthy: np.ndarray) -> None:
    model = fit_baseline(healthy, SIGNALS, asset="CNC-03")
    values = dict(zip(SIGNALS, healthy.mean(axis=0), strict=True))
    del values["temp_rise"]
    score, missing = model.score_features(values)
    assert missing == 1 and score < 1.0


def test_too_few_rows_and_constant_features_are_reported(healthy: np.ndarray) -> None:
    with pytest.raises(DataError, match="at least"):
        fit_baseline(healthy[:5], SIGNALS, asset="A")
    x = np.column_stack([healthy, np.full(len(healthy), 7.0)])
    model = fit_baseline(x, (*SIGNALS, "const"), asset="A")
    assert model.info.dropped_features == ("const",)
    assert model.score(x[:10]).shape == (10,)


def test_scorer_warns_days_before_failure_and_stays_quiet_on_a_healthy_machine(healthy: np.ndarray) -> None:
    model = fit_baseline(healthy, SIGNALS, asset="CNC-03", failure_score=1500.0)
    run = bearing_run(hours=1e9, onset_h=200, failure_h=400, seed=5)
    scorer = AssetScorer(model)
    first_alarm = None
    last = None
    for t, row in zip(run.t_h, run.x, strict=True):
        last = scorer.update(FeatureVector(ts_s=t * 3600, values=dict(zip(SIGNALS, row, strict=True))))
        if first_alarm is None and last.state != "normal":
            first_alarm = t
    assert first_alarm is not None and 200 <= first_alarm
    assert run.failure_h - first_alarm > 72  # more than three days of warning
    assert last is not None and last.state == "alarm" and last.health_index < 10
    quiet = AssetScorer(model)
    normal = bearing_run(hours=28 * 24, seed=6)
    states = {quiet.update(FeatureVector(ts_s=t * 3600, values=dict(zip(SIGNALS, r, strict=True)))).state
              for t, r in zip(normal.t_h, normal.x, strict=True)}
    assert states == {"normal"}


def test_trimming_keeps_unlabelled_upsets_out_of_the_baseline() -> None:
    from analytics.pdm.synthetic import contaminate, cooling_fault_run

    clean = bearing_run(hours=7 * 24, seed=1)
    dirty = contaminate(clean, fraction=0.02, seed=2)
    fault = cooling_fault_run(hours=14 * 24, onset_h=7 * 24, offset_k=2.0, seed=3)
    after = fault.x[fault.anomaly == 1]
    trimmed = fit_baseline(dirty.x, SIGNALS, asset="A")
    untrimmed = fit_baseline(dirty.x, SIGNALS, asset="A", trim=None)
    reference = fit_baseline(clean.x, SIGNALS, asset="A", trim=None)
    assert trimmed.info.n_trimmed >= 0.015 * len(clean.x)
    recall = {name: float(np.mean(m.score(after) >= 1.0))
              for name, m in (("trimmed", trimmed), ("untrimmed", untrimmed), ("clean", reference))}
    # Upsets in the training data hide a cooling fault; trimming them restores the detector.
    assert recall["untrimmed"] < 0.5 * recall["clean"]
    assert recall["trimmed"] > 0.8 * recall["clean"]
