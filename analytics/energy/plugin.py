"""Registers energy, cost and carbon (entry point `energy` in `factory_twin.analytics`): the plant's `energy:`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.energy.config import EnergyConfig
from twin.plant import Plant
from twin.plugins import AnalyticPlugin, Scope

if TYPE_CHECKING:
    from analytics.runtime import Analytic
    from twin.settings import Settings


def energy_config(plant: Plant) -> EnergyConfig | None:
    """The plant's energy section, or None when it has none."""
    config: EnergyConfig | None = plant.section("energy")
    return config


def _check(plant: Plant) -> None:
    config = energy_config(plant)
    if config is not None:
        assets = list(plant.assets())
        config.check_references({p.asset: set(a.signals) for p, a in assets}, {p.asset: a.meters for p, a in assets})


def build_stream(plant: Plant, settings: Settings) -> Analytic | None:
    """The streaming energy analytic (None when the plant meters nothing)."""
    from analytics.energy.service import build_energy

    return build_energy(plant)


PLUGIN = AnalyticPlugin(
    name="energy", scope=Scope.PLANT, model=EnergyConfig, check=_check, stream="analytics.energy.plugin:build_stream",
    summary="energy, cost and carbon (analytics/energy)",
)
