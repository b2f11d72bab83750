"""RUL: the Fieller interval covers the true failure time; PHM08 score; alert text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.pdm.evaluate import phm08_score, rmse
from analytics.pdm.rul import RulTracker, time_to_threshold
from analytics.pdm.scorer import HealthResult

# Known degradation: ln(indicator) = B0 + B1·t + N(0, SIGMA²); failure where it reaches THR.
B0, B1, SIGMA, THR = -1.0, 0.05, 0.15, math.log(100.0)
T_FAIL = (THR - B0) / B1  # 112.1 h


def _observe(seed: int, t_now: float, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(t_now - 40.0, t_now, n)
    return t, B0 + B1 * t + rng.normal(0.0, SIGMA, n)


def test_interval_contains_the_true_failure_time() -> None:
    t, y = _observe(seed=7, t_now=60.0)
    est = time_to_threshold(t, y, THR, level=0.9)
    assert est is not None
    true_rul = T_FAIL - 60.0
    assert est.contains(true_rul)
    assert est.low < est.rul < est.high
    assert abs(est.rul - true_rul) < 10.0


def test_interval_coverage_is_close_to_its_level() -> None:
    hits = 0
    for seed in range(300):
        t, y = _observe(seed=seed, t_now=60.0)
        est = time_to_threshold(t, y, THR, level=0.9)
        hits += est is not None and est.contains(T_FAIL - 60.0)
    assert hits / 300 == pytest.approx(0.9, abs=0.05)


def test_no_rul_without_a_significant_upward_trend() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(30.0)
    assert time_to_threshold(t, rng.normal(0, 1, 30), 10.0) is None
    assert time_to_threshold(t, -0.1 * t, 10.0) is None
    assert time_to_threshold([1.0, 2.0], [1.0, 2.0], 10.0) is None


def test_tracker_needs_min_points_and_resets() -> None:
    tracker = RulTracker(threshold=THR, min_points=6)
    t, y = _observe(seed=1, t_now=60.0, n=10)
    estimates = [tracker.update(float(a), float(b)) for a, b in zip(t, y, strict=True)]
    assert all(e is None for e in estimates[:5]) and estimates[-1] is not None
    assert tracker.estimate is estimates[-1] and tracker.n_points == 10
    tracker.reset()
    assert tracker.n_points == 0 and tracker.estimate is None


def test_phm08_score_against_hand_computed_value() -> None:
    # d = predicted − true = (−13, 0, 10, 20)
    # → (e^1 − 1) + 0 + (e^1 − 1) + (e^2 − 1) = 2e + e² − 3 = 9.825...
    predicted, true = [7.0, 50.0, 40.0, 120.0], [20.0, 50.0, 30.0, 100.0]
    assert phm08_score(predicted, true) == pytest.approx(2 * math.e + math.e**2 - 3)
    assert phm08_score([90.0], [100.0]) < phm08_score([110.0], [100.0])  # late costs more than early
    assert rmse(predicted, true) == pytest.approx(math.sqrt((169 + 0 + 100 + 400) / 4))


def test_alert_text() -> None:
    r = HealthResult(asset="CNC-03", ts_s=0.0, anomaly_score=15.2, health_index=41.2, state="alarm",
                     previous_state="warning", rul_hours=37.0, rul_hours_low=30.2, rul_hours_high=44.4)
    assert r.alert_text("spindle bearing") == "CNC-03 spindle bearing: health 41, failure threshold expected in 30–44 h"
    assert r.changed
    quiet = HealthResult(asset="CNC-03", ts_s=0.0, anomaly_score=1.5, health_index=91.0, state="warning",
                         previous_state="warning")
    assert quiet.alert_text() == "CNC-03: health 91, anomaly score 1.5× the control limit, no degradation trend yet"
