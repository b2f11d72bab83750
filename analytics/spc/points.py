"""Plain frozen result types shared by every chart: `ChartPoint` and `Violation`.

These are what the streaming service writes to InfluxDB (one point per `ChartPoint`, its
violations as alert events), so they carry everything a dashboard needs to draw the chart
without knowing how it was computed: the plotted statistic, centre line and limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule that fired: which rule, and the points (indices and timestamps) that triggered it.

    `index` is the position of the point at which the rule fired (the last of `indices`).
    Indices count chart points from 0 (subgroups for X̄ charts, samples for individuals).
    """

    rule: str
    description: str
    chart: str
    index: int
    indices: tuple[int, ...]
    timestamps: tuple[datetime | None, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (timestamps as ISO 8601)."""
        return {
            "rule": self.rule, "description": self.description, "chart": self.chart, "index": self.index,
            "indices": list(self.indices),
            "timestamps": [t.isoformat() if t is not None else None for t in self.timestamps],
        }


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One plotted point of a control chart with its centre line, limits and violations.

    `statistic` is what is plotted (x, x̄, R, s, EWMA z, CUSUM C⁺, p, np, c, u). For CUSUM,
    `statistic_lower` holds C⁻ (plotted as −C⁻ by convention) and the limits are ±H.
    `sigma` is the standard deviation of the statistic at this point (used for zones).
    `lcl`/`ucl` are None when the chart has no limit on that side.
    `dispersion` is the companion chart point (MR for I-MR, R for X̄-R, S for X̄-S).
    """

    chart: str
    index: int
    timestamp: datetime | None
    statistic: float
    center: float
    lcl: float | None
    ucl: float | None
    sigma: float
    size: float = 1.0
    statistic_lower: float | None = None
    violations: tuple[Violation, ...] = ()
    dispersion: ChartPoint | None = None

    @property
    def out_of_limits(self) -> bool:
        """True when the statistic lies beyond a control limit (strictly)."""
        if self.chart == "cusum":
            return self.ucl is not None and (
                self.statistic > self.ucl or (self.statistic_lower is not None and self.statistic_lower > self.ucl)
            )
        return (self.ucl is not None and self.statistic > self.ucl) or (
            self.lcl is not None and self.statistic < self.lcl
        )

    @property
    def in_control(self) -> bool:
        """True when neither this point nor its dispersion point has any violation."""
        return not self.all_violations

    @property
    def all_violations(self) -> tuple[Violation, ...]:
        """Violations of this point and of its companion dispersion point."""
        if self.dispersion is None:
            return self.violations
        return self.violations + self.dispersion.violations

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d: dict[str, Any] = {
            "chart": self.chart, "index": self.index,
            "timestamp": self.timestamp.isoformat() if self.timestamp is not None else None,
            "statistic": self.statistic, "center": self.center, "lcl": self.lcl, "ucl": self.ucl,
            "sigma": self.sigma, "size": self.size,
            "violations": [v.as_dict() for v in self.violations],
        }
        if self.statistic_lower is not None:
            d["statistic_lower"] = self.statistic_lower
        if self.dispersion is not None:
            d["dispersion"] = self.dispersion.as_dict()
        return d


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with a two-sided confidence interval (None when it cannot be computed)."""

    value: float
    lower: float | None = None
    upper: float | None = None
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "confidence": self.confidence}


@dataclass(frozen=True, slots=True)
class Limits:
    """Frozen Phase II parameters of a chart: what Phase I estimated (or what was known).

    For variables charts `center` is the process mean and `sigma` the within-subgroup
    process standard deviation; for attributes charts `center` is p̄, c̄ or ū and `sigma` is
    unused (None). `source` says where they came from ("known" or "estimated").
    """

    center: float
    sigma: float | None
    source: str = "estimated"
    details: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"center": self.center, "sigma": self.sigma, "source": self.source, **self.details}
