"""Registers alert routing (entry point `alerts` in `factory_twin.analytics`): the plant's `alerts:` section.

The alert service reads this section; it is not a streaming analytic of its own.
"""

from __future__ import annotations

from analytics.alerts.config import AlertsConfig
from twin.plant import Plant
from twin.plugins import AnalyticPlugin, Scope


def alerts_config(plant: Plant) -> AlertsConfig:
    """The plant's alert routing (the defaults when the file has no `alerts:` section)."""
    config: AlertsConfig = plant.section("alerts")
    return config


PLUGIN = AnalyticPlugin(
    name="alerts", scope=Scope.PLANT, model=AlertsConfig, default=AlertsConfig,
    summary="alert routing (analytics/alerts)",
)
