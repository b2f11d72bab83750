"""Registers predictive maintenance (entry point `pdm` in `factory_twin.analytics`): an asset's `pdm:` section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.pdm.config import PdmAssetConfig
from twin.plant import Asset, Plant
from twin.plugins import AnalyticPlugin, Scope

if TYPE_CHECKING:
    from analytics.runtime import Analytic
    from twin.settings import Settings


def pdm_config(asset: Asset) -> PdmAssetConfig | None:
    """The asset's predictive-maintenance settings, or None when it has none."""
    config: PdmAssetConfig | None = asset.section("pdm")
    return config


def _check(plant: Plant) -> None:
    for path, asset in plant.assets():
        config = pdm_config(asset)
        if config is not None:
            unknown = sorted(config.signals() - set(asset.signals))
            if unknown:
                raise ValueError(f"areas.{path.area}.lines.{path.line}.assets.{path.asset}.pdm: "
                                 f"unknown signal(s) {', '.join(unknown)}")


def build_stream(plant: Plant, settings: Settings) -> Analytic | None:
    """The streaming PdM analytic for every asset with a `pdm:` section, models under the state folder."""
    from analytics.pdm.service import build_pdm

    return build_pdm(plant, settings.state_dir / "models")


PLUGIN = AnalyticPlugin(
    name="pdm", scope=Scope.ASSET, model=PdmAssetConfig, check=_check, stream="analytics.pdm.plugin:build_stream",
    summary="predictive maintenance (analytics/pdm/config.py)",
)
