"""Alerts that reach maintenance staff: one model, lifecycle, routing, notifications, acknowledgement.

See README.md for the model, configuration and API.

This package exports its plugin contract (the plant-file section and the plugin that
registers it); the engines are imported from their modules (e.g. `analytics.alerts.service`),
so validating a plant file does not load them.
"""

from analytics.alerts.config import AlertsConfig
from analytics.alerts.plugin import PLUGIN, alerts_config

__all__ = ["PLUGIN", "AlertsConfig", "alerts_config"]
