"""Energy, cost and carbon accounting (环): meters → kWh → cost (time-of-use) and CO2e, KPIs, baselines.

Pure computation, no I/O: the streaming service and `twin energy report` are thin wrappers.
See README.md in this folder for formulas and factor sources.

This package exports its plugin contract (the plant-file section and the plugin that
registers it); the engines are imported from their modules (e.g. `analytics.energy.service`),
so validating a plant file does not load them.
"""

from analytics.energy.config import EnergyConfig, MeterConfig
from analytics.energy.plugin import PLUGIN, energy_config

__all__ = ["PLUGIN", "EnergyConfig", "MeterConfig", "energy_config"]
