"""Statistical process control (测): control charts, run rules, capability and ARL simulation.

`SpcEvaluator` (built from the plant model"s `CharacteristicSpc`) charts one characteristic
and returns `ChartPoint` / `Violation`; the streaming service (`SpcAnalytic`, `build_spc`,
`twin spc run`) drives one per characteristic and product; quality engineers use
`twin spc analyze` / `twin spc arl` (`analytics.spc.cli`). See README.md in this folder for
the formulas and their sources.

This package exports its plugin contract (the plant-file section and the plugin that
registers it); the engines are imported from their modules (e.g. `analytics.spc.service`),
so validating a plant file does not load them.
"""

from analytics.spc.config import CharacteristicSpc, CusumSettings, EwmaSettings, SpecLimits
from analytics.spc.plugin import PLUGIN, characteristic

__all__ = ["PLUGIN", "CharacteristicSpc", "CusumSettings", "EwmaSettings", "SpecLimits", "characteristic"]
