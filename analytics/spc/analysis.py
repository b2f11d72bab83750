"""Batch analysis of a data set: Phase I limits (or known ones), the chart, violations, capability.

This is what `twin spc analyze` shows. The chart points come from the same streaming
charts the service runs, fed one sample at a time with the frozen limits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from analytics.spc.capability import Capability, capability
from analytics.spc.phase1 import (
    VARIABLES_CHARTS,
    ChartSpec,
    PhaseOneResult,
    Samples,
    build_chart,
    phase_one,
    run_chart,
    subgroup_size,
)
from analytics.spc.points import ChartPoint, Violation


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything `analyze` found: limits, points, violations and (for variables) capability."""

    spec: ChartSpec
    phase_one: PhaseOneResult
    subgroup_size: int | None
    points: tuple[ChartPoint, ...]
    capability: Capability | None

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation on the location and dispersion charts, in point order."""
        return tuple(v for p in self.points for v in p.all_violations)

    @property
    def violations_by_rule(self) -> dict[str, int]:
        """How many times each rule fired."""
        return dict(Counter(v.rule for v in self.violations))

    @property
    def in_control(self) -> bool:
        """True when no rule fired anywhere."""
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "chart": self.spec.kind,
            "subgroup_size": self.subgroup_size,
            "limits": self.phase_one.limits.as_dict(),
            "phase_one": self.phase_one.as_dict(),
            "points": [p.as_dict() for p in self.points],
            "violations": [v.as_dict() for v in self.violations],
            "violations_by_rule": self.violations_by_rule,
            "in_control": self.in_control,
            "capability": self.capability.as_dict() if self.capability else None,
        }


def analyze(spec: ChartSpec, samples: Samples, *, target: float | None = None, sigma: float | None = None,
            lsl: float | None = None, usl: float | None = None, confidence: float = 0.95) -> Analysis:
    """Phase I on `samples` (unless target and sigma are known), then chart all samples with frozen limits.

    Capability (variables charts, when a spec limit is given) uses σ_within from the chart's
    limits and all measurements for the overall σ.
    """
    p1 = phase_one(spec, samples, mean=target, sigma=sigma)
    n = subgroup_size(spec, samples)
    chart = build_chart(spec, p1.limits, subgroup_size=n)
    points = tuple(run_chart(chart, samples))
    cap = None
    if spec.kind in VARIABLES_CHARTS and (lsl is not None or usl is not None):
        in_control = not any(p.all_violations for p in points)
        cap = capability(samples.values, lsl=lsl, usl=usl, target=target, sigma_within=p1.limits.sigma,
                         confidence=confidence, in_control=in_control)
    return Analysis(spec=spec, phase_one=p1, subgroup_size=n, points=points, capability=cap)
