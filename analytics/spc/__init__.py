"""Statistical process control (测): control charts, run rules, capability and ARL simulation.

`SpcEvaluator` (built from the plant model's `CharacteristicSpc`) charts one characteristic
and returns `ChartPoint` / `Violation`; the streaming service (`SpcAnalytic`, `build_spc`,
`twin spc run`) drives one per characteristic and product; quality engineers use
`twin spc analyze` / `twin spc arl` (`analytics.spc.cli`). See README.md in this folder for
the formulas and their sources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics._lazy import lazy_exports

if TYPE_CHECKING:
    from analytics.spc.analysis import Analysis, analyze
    from analytics.spc.arl import ArlResult, simulate_arl
    from analytics.spc.capability import Capability, NormalityTest, capability, normality_test
    from analytics.spc.charts import (
        CChart,
        Chart,
        CusumChart,
        EwmaChart,
        IndividualsChart,
        NpChart,
        PChart,
        UChart,
        XbarRChart,
        XbarSChart,
    )
    from analytics.spc.config import CharacteristicSpc, CusumSettings, EwmaSettings, SpecLimits
    from analytics.spc.constants import Factors, factors
    from analytics.spc.errors import SpcConfigError, SpcDataError, SpcError
    from analytics.spc.evaluator import SpcEvaluator
    from analytics.spc.phase1 import ChartSpec, PhaseOneResult, Samples, build_chart, phase_one, run_chart
    from analytics.spc.points import ChartPoint, Estimate, Limits, Violation
    from analytics.spc.rules import RULE_DESCRIPTIONS, RuleChecker, parse_rules
    from analytics.spc.service import SpcAnalytic, build_spc

# Public name → submodule; imported on first use (analytics/_lazy.py says why).
_EXPORTS = {
    "RULE_DESCRIPTIONS": "rules",
    "Analysis": "analysis",
    "ArlResult": "arl",
    "CChart": "charts",
    "Capability": "capability",
    "CharacteristicSpc": "config",
    "Chart": "charts",
    "ChartPoint": "points",
    "ChartSpec": "phase1",
    "CusumChart": "charts",
    "CusumSettings": "config",
    "Estimate": "points",
    "EwmaChart": "charts",
    "EwmaSettings": "config",
    "Factors": "constants",
    "IndividualsChart": "charts",
    "Limits": "points",
    "NormalityTest": "capability",
    "NpChart": "charts",
    "PChart": "charts",
    "PhaseOneResult": "phase1",
    "RuleChecker": "rules",
    "Samples": "phase1",
    "SpcConfigError": "errors",
    "SpcAnalytic": "service",
    "SpcDataError": "errors",
    "SpcError": "errors",
    "SpcEvaluator": "evaluator",
    "SpecLimits": "config",
    "UChart": "charts",
    "Violation": "points",
    "XbarRChart": "charts",
    "XbarSChart": "charts",
    "analyze": "analysis",
    "build_chart": "phase1",
    "build_spc": "service",
    "capability": "capability",
    "factors": "constants",
    "normality_test": "capability",
    "parse_rules": "rules",
    "phase_one": "phase1",
    "run_chart": "phase1",
    "simulate_arl": "arl",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "RULE_DESCRIPTIONS",
    "Analysis",
    "ArlResult",
    "CChart",
    "Capability",
    "CharacteristicSpc",
    "Chart",
    "ChartPoint",
    "ChartSpec",
    "CusumChart",
    "CusumSettings",
    "Estimate",
    "EwmaChart",
    "EwmaSettings",
    "Factors",
    "IndividualsChart",
    "Limits",
    "NormalityTest",
    "NpChart",
    "PChart",
    "PhaseOneResult",
    "RuleChecker",
    "Samples",
    "SpcAnalytic",
    "SpcConfigError",
    "SpcDataError",
    "SpcError",
    "SpcEvaluator",
    "SpecLimits",
    "UChart",
    "Violation",
    "XbarRChart",
    "XbarSChart",
    "analyze",
    "build_chart",
    "build_spc",
    "capability",
    "factors",
    "normality_test",
    "parse_rules",
    "phase_one",
    "run_chart",
    "simulate_arl",
]
