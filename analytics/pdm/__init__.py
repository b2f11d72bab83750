"""Predictive maintenance (机): window features, per-asset baselines, anomaly score, health index, RUL, alert state.

A streaming service feeds readings to a `FeatureWindow` per asset, passes each emitted
`FeatureVector` to that asset's `AssetScorer`, and writes the `HealthResult`; models come
from a `ModelRegistry` that reloads retrained files. See README.md in this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics._lazy import lazy_exports

if TYPE_CHECKING:
    from analytics.pdm.errors import DataError, ModelError, PdmError
    from analytics.pdm.features import FeatureSpec, FeatureVector, FeatureWindow
    from analytics.pdm.hysteresis import AlertHysteresis, Level
    from analytics.pdm.models import BaselineModel, ModelInfo, calibrate_failure_score, fit_baseline, health_index
    from analytics.pdm.rul import RulEstimate, RulTracker, time_to_threshold
    from analytics.pdm.scorer import AssetScorer, HealthResult, default_levels
    from analytics.pdm.store import ModelRegistry, load_model, save_model

# Public name → submodule; imported on first use (analytics/_lazy.py says why).
_EXPORTS = {
    "AlertHysteresis": "hysteresis",
    "AssetScorer": "scorer",
    "BaselineModel": "models",
    "DataError": "errors",
    "FeatureSpec": "features",
    "FeatureVector": "features",
    "FeatureWindow": "features",
    "HealthResult": "scorer",
    "Level": "hysteresis",
    "ModelError": "errors",
    "ModelInfo": "models",
    "ModelRegistry": "store",
    "PdmError": "errors",
    "RulEstimate": "rul",
    "RulTracker": "rul",
    "calibrate_failure_score": "models",
    "default_levels": "scorer",
    "fit_baseline": "models",
    "health_index": "models",
    "load_model": "store",
    "save_model": "store",
    "time_to_threshold": "rul",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
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
