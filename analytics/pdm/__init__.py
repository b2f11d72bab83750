"""Predictive maintenance (机): window features, per-asset baselines, anomaly score, health index, RUL, alert state.

A streaming service feeds readings to a `FeatureWindow` per asset, passes each emitted
`FeatureVector` to that asset"s `AssetScorer`, and writes the `HealthResult`; models come
from a `ModelRegistry` that reloads retrained files. See README.md in this folder.

This package exports its plugin contract (the plant-file section and the plugin that
registers it); the engines are imported from their modules (e.g. `analytics.pdm.service`),
so validating a plant file does not load them.
"""

from analytics.pdm.config import PdmAssetConfig
from analytics.pdm.plugin import PLUGIN, pdm_config

__all__ = ["PLUGIN", "PdmAssetConfig", "pdm_config"]
