"""Predictive maintenance (机): window features, per-asset baselines, anomaly score, health index, RUL, alert state.

A streaming service feeds readings to a `FeatureWindow` per asset, passes each emitted
`FeatureVector` to that asset's `AssetScorer`, and writes the `HealthResult`; models come
from a `ModelRegistry` that reloads retrained files. See README.md in this folder.
"""

from analytics.pdm.errors import DataError, ModelError, PdmError
from analytics.pdm.features import FeatureSpec, FeatureVector, FeatureWindow
from analytics.pdm.hysteresis import AlertHysteresis, Level
from analytics.pdm.models import BaselineModel, ModelInfo, calibrate_failure_score, fit_baseline, health_index
from analytics.pdm.rul import RulEstimate, RulTracker, time_to_threshold
from analytics.pdm.scorer import AssetScorer, HealthResult, default_levels
from analytics.pdm.store import ModelRegistry, load_model, save_model

__all__ = [
    "AlertHysteresis",
    "AssetScorer",
    "BaselineModel",
    "DataError",
    "FeatureSpec",
    "FeatureVector",
    "FeatureWindow",
    "HealthResult",
    "Level",
    "ModelError",
    "ModelInfo",
    "ModelRegistry",
    "PdmError",
    "RulEstimate",
    "RulTracker",
    "calibrate_failure_score",
    "default_levels",
    "fit_baseline",
    "health_index",
    "load_model",
    "save_model",
    "time_to_threshold",
]
