"""The path a streaming service takes: readings → FeatureWindow → AssetScorer, with a hot-reloaded model."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from analytics.pdm.features import FeatureSpec, FeatureWindow
from analytics.pdm.models import fit_baseline
from analytics.pdm.scorer import AssetScorer
from analytics.pdm.store import ModelRegistry, save_model

SPEC = FeatureSpec(vibration=("vib",), trend=("bpfo",), temperature=("temp",), ambient="ambient",
                   current="current", load="load")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _readings(hours: float, *, seed: int, growth_per_h: float = 0.0, start_h: float = 0.0):  # type: ignore[no-untyped-def]
    """Samples every 10 s; after start_h the defect grows by growth_per_h (e-folds per hour)."""
    rng = np.random.default_rng(seed)
    for k in range(int(hours * 360)):
        t_h = start_h + k / 360
        d = math.exp(growth_per_h * (t_h - start_h))
        ts = T0 + timedelta(hours=t_h)
        load = 0.7 + 0.2 * math.sin(2 * math.pi * t_h / 8)
        yield "vib", ts, float(rng.normal(0.0, 1.0 + 0.05 * (d - 1)))
        yield "bpfo", ts, float(d * (1 + 0.3 * load) * math.exp(rng.normal(0, 0.1)))
        yield "temp", ts, float(25 + 20 * load + 0.3 * (d - 1) + rng.normal(0, 0.2))
        yield "ambient", ts, 25.0
        yield "current", ts, float(10 * load * (1 + rng.normal(0, 0.01)))
        yield "load", ts, load
        yield "mode", ts, "auto"  # not numeric: skipped


def test_readings_to_health_results_with_a_model_reload(tmp_path: Path) -> None:
    window = FeatureWindow(SPEC, window_s=600, hop_s=300)
    healthy = window.update_many(_readings(24, seed=1))
    names = sorted(healthy[-1].values)
    x = np.array([v.as_array(names) for v in healthy])
    save_model(fit_baseline(x, names, asset="CNC-03", failure_score=400.0), tmp_path)
    registry = ModelRegistry(tmp_path, check_interval_s=0.0)
    model = registry.get("CNC-03")
    assert model is not None
    scorer = AssetScorer(model)
    live = FeatureWindow(SPEC, window_s=600, hop_s=300)
    results = []
    reloaded_at = None
    for signal, ts, value in _readings(30, seed=2, growth_per_h=0.15, start_h=24):
        fv = live.update(signal, ts, value)
        if fv is None:
            continue
        if reloaded_at is None and scorer.state != "normal":
            # A retrained model (same data, new version) arrives while the alert is up.
            save_model(fit_baseline(x, names, asset="CNC-03", failure_score=400.0, version=2), tmp_path)
            reloaded_at = len(results)
        current = registry.get("CNC-03")
        if current is not None and current is not scorer.model:
            scorer.use_model(current)
        results.append(scorer.update(fv))
    assert reloaded_at is not None
    assert results[reloaded_at].model_version == 2 and results[reloaded_at].state != "normal"
    assert results[0].state == "normal" and results[0].health_index == 100.0
    assert results[-1].state == "alarm" and results[-1].health_index < 50
    assert results[-1].rul_hours is not None and results[-1].rul_hours_low is not None
    assert "failure threshold expected in" in results[-1].alert_text("spindle bearing")
    assert sum(r.changed for r in results) <= 4  # normal → warning → alarm, maybe one reload step
