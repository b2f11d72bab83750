"""Phase I: estimate a chart's parameters from a baseline, drop out-of-control points, repeat.

Procedure (Montgomery, *Introduction to SQC*, 7th ed., §6.2.1 and Example 6.1; §7.2.1 for
attributes): compute trial limits from all baseline points; remove the points that fall
beyond the trial limits (on the location chart or its dispersion chart); recompute from
the remaining points; repeat until no point is beyond the limits (or `max_iterations`).
Only limit violations are removed, not run-rule patterns: the latter say the process was
not stable, but they do not identify single points to discard.

Estimators (σ is the within-subgroup standard deviation):
- individuals, EWMA and CUSUM baselines: μ̂ = x̄, σ̂ = MR̄/d2(2) with MR over consecutive
  retained points (Montgomery §6.4). EWMA and CUSUM are estimated through an
  I-MR Phase I, because their own statistics are autocorrelated and cannot single out
  points to discard.
- X̄-R: μ̂ = x̿, σ̂ = R̄/d2(n) (§6.2.1, via A2 = 3/(d2√n)); X̄-S: σ̂ = s̄/c4(n) (§6.3.1).
- p: p̄ = Σd/Σn; np: p̄ from constant n; c: c̄ = mean count; u: ū = Σc/Σn (§7.2.1, §7.3.1).

Known parameters (`mean=`, `sigma=`, or the standard p/c/u as `mean=`) are used as given,
and only the unknown ones are estimated; with everything known there is no Phase I.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
from analytics.spc.constants import c4, d2
from analytics.spc.errors import SpcConfigError, SpcDataError
from analytics.spc.points import ChartPoint, Limits

log = logging.getLogger(__name__)

VARIABLES_CHARTS = ("imr", "xbar-r", "xbar-s", "ewma", "cusum")
ATTRIBUTES_CHARTS = ("p", "np", "c", "u")
CHART_KINDS = VARIABLES_CHARTS + ATTRIBUTES_CHARTS


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """What chart to draw and how: kind plus the options of that kind (defaults are the usual ones).

    `L` is the Shewhart limit width in σ (3), or the EWMA width (`L` = 2.814 pairs with λ = 0.1
    for an in-control ARL of about 500; Lucas & Saccucci 1990).
    """

    kind: str
    L: float | None = None
    rules: str | tuple[str, ...] = "nelson"
    lam: float = 0.1
    ewma_limits: str = "exact"
    k: float = 0.5
    h: float = 5.0
    headstart: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise SpcConfigError(f"unknown chart {self.kind!r}; choose one of {', '.join(CHART_KINDS)}")

    @property
    def width(self) -> float:
        """Limit width in σ: L if given, else 3 (Shewhart) or 2.814 (EWMA)."""
        if self.L is not None:
            return self.L
        return 2.814 if self.kind == "ewma" else 3.0


@dataclass(frozen=True, slots=True)
class Samples:
    """Baseline or monitoring data, one entry per chart point.

    Variables: `subgroups` holds each subgroup's measurements (length 1 for individuals).
    Attributes: `counts` holds defectives/defects and `sizes` the inspected size.
    """

    subgroups: tuple[tuple[float, ...], ...] = ()
    counts: tuple[float, ...] = ()
    sizes: tuple[float, ...] = ()
    timestamps: tuple[datetime | None, ...] = ()

    def __len__(self) -> int:
        return len(self.subgroups) if self.subgroups else len(self.counts)

    @classmethod
    def individuals(cls, values: Sequence[float], timestamps: Sequence[datetime | None] | None = None) -> Samples:
        """Samples of single measurements."""
        return cls(subgroups=tuple((float(v),) for v in values), timestamps=tuple(timestamps or ()))

    @classmethod
    def attributes(cls, counts: Sequence[float], sizes: Sequence[float] | None = None,
                   timestamps: Sequence[datetime | None] | None = None) -> Samples:
        """Samples of counts with their inspected sizes (1 each when not given)."""
        return cls(counts=tuple(float(c) for c in counts),
                   sizes=tuple(float(s) for s in sizes) if sizes is not None else (1.0,) * len(counts),
                   timestamps=tuple(timestamps or ()))

    def timestamp(self, i: int) -> datetime | None:
        """Timestamp of chart point i (None when the data had none)."""
        return self.timestamps[i] if i < len(self.timestamps) else None

    @property
    def values(self) -> tuple[float, ...]:
        """All individual measurements, flattened in order."""
        return tuple(v for g in self.subgroups for v in g)


@dataclass(frozen=True, slots=True)
class PhaseOneResult:
    """Outcome of Phase I: the frozen limits and which baseline points were dropped to get them."""

    kind: str
    limits: Limits
    initial_limits: Limits
    excluded: tuple[int, ...]
    iterations: int
    converged: bool
    history: tuple[tuple[int, ...], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"limits": self.limits.as_dict(), "initial_limits": self.initial_limits.as_dict(),
                "excluded": list(self.excluded), "iterations": self.iterations, "converged": self.converged}


def build_chart(spec: ChartSpec, limits: Limits, *, subgroup_size: int | None = None) -> Chart:
    """A fresh Phase II streaming chart for `spec` with frozen `limits`."""
    L = spec.width
    kind = spec.kind
    sigma = limits.sigma
    if kind in VARIABLES_CHARTS and (sigma is None or not sigma > 0):
        raise SpcDataError(f"cannot build the {kind} chart: the process sigma is {sigma!r} "
                           "(all baseline points identical?); give a known sigma")
    if kind == "imr":
        return IndividualsChart(mean=limits.center, sigma=sigma or 0.0, L=L, rules=spec.rules)
    if kind in ("xbar-r", "xbar-s"):
        if subgroup_size is None:
            raise SpcConfigError(f"{kind} needs a subgroup size")
        cls = XbarRChart if kind == "xbar-r" else XbarSChart
        return cls(mean=limits.center, sigma=sigma or 0.0, n=subgroup_size, L=L, rules=spec.rules)
    if kind == "ewma":
        return EwmaChart(mean=limits.center, sigma=sigma or 0.0, lam=spec.lam, L=L, limits=spec.ewma_limits)
    if kind == "cusum":
        return CusumChart(mean=limits.center, sigma=sigma or 0.0, k=spec.k, h=spec.h, headstart=spec.headstart)
    if kind == "p":
        return PChart(p=limits.center, L=L, rules=spec.rules)
    if kind == "np":
        if subgroup_size is None:
            raise SpcConfigError("np chart needs the (constant) sample size")
        return NpChart(p=limits.center, n=subgroup_size, L=L, rules=spec.rules)
    if kind == "c":
        return CChart(c=limits.center, L=L, rules=spec.rules)
    return UChart(u=limits.center, L=L, rules=spec.rules)


def run_chart(chart: Chart, samples: Samples) -> list[ChartPoint]:
    """Feed every sample through a streaming chart; return one point per subgroup/sample."""
    out: list[ChartPoint] = []
    if samples.subgroups:
        for i, group in enumerate(samples.subgroups):
            ts = samples.timestamp(i)
            if len(group) > 1:
                out.append(chart.update_subgroup(group, ts))  # type: ignore[attr-defined]
            else:
                point = chart.update(group[0], ts)
                if point is not None:
                    out.append(point)
    else:
        for i, (c, n) in enumerate(zip(samples.counts, samples.sizes, strict=True)):
            point = chart.update(c, samples.timestamp(i), size=n)
            if point is not None:
                out.append(point)
    return out


def subgroup_size(spec: ChartSpec, samples: Samples) -> int | None:
    """The constant subgroup (or np sample) size the chart needs; raises when sizes differ."""
    if spec.kind in ("xbar-r", "xbar-s"):
        sizes = {len(g) for g in samples.subgroups}
        if len(sizes) != 1:
            raise SpcDataError(f"{spec.kind} needs subgroups of equal size, found sizes {sorted(sizes)}")
        n = sizes.pop()
        if not 2 <= n <= 25:
            raise SpcDataError(f"{spec.kind} needs subgroups of 2 to 25 measurements, found {n}")
        return n
    if spec.kind == "np":
        sizes_f = set(samples.sizes)
        if len(sizes_f) != 1:
            raise SpcDataError(f"np chart needs a constant sample size, found {len(sizes_f)} different sizes; "
                               "use a p chart")
        n_f = sizes_f.pop()
        if n_f != int(n_f):
            raise SpcDataError(f"np chart sample size must be a whole number, got {n_f}")
        return int(n_f)
    return None


def _check_samples(spec: ChartSpec, samples: Samples) -> None:
    if spec.kind in VARIABLES_CHARTS:
        if not samples.subgroups:
            raise SpcDataError(f"{spec.kind} chart needs measurements")
        bad = [v for g in samples.subgroups for v in g if not math.isfinite(v)]
        if bad:
            raise SpcDataError(f"measurements must be finite numbers, found {bad[0]!r}")
        if spec.kind in ("imr", "ewma", "cusum") and any(len(g) != 1 for g in samples.subgroups):
            raise SpcDataError(f"{spec.kind} chart takes individual measurements (subgroup size 1); "
                               "use xbar-r or xbar-s for subgroups")
    else:
        if not samples.counts:
            raise SpcDataError(f"{spec.kind} chart needs counts")
        if any(c < 0 or not math.isfinite(c) for c in samples.counts):
            raise SpcDataError("counts must be finite and >= 0")
        if any(n <= 0 or not math.isfinite(n) for n in samples.sizes):
            raise SpcDataError("sample sizes must be finite and > 0")
        if spec.kind in ("p", "np") and any(c > n for c, n in zip(samples.counts, samples.sizes, strict=True)):
            raise SpcDataError("a sample has more defectives than units inspected")


def _estimate(spec: ChartSpec, samples: Samples, keep: Sequence[int], mean: float | None,
              sigma: float | None) -> Limits:
    kind = spec.kind
    kept = set(keep)
    if kind in ATTRIBUTES_CHARTS:
        if mean is not None:
            return Limits(center=mean, sigma=None, source="known")
        counts = [samples.counts[i] for i in keep]
        sizes = [samples.sizes[i] for i in keep]
        center = math.fsum(counts) / math.fsum(sizes) if kind in ("p", "np", "u") else math.fsum(counts) / len(counts)
        if kind in ("p", "np") and not 0 < center < 1:
            raise SpcDataError(f"{kind} chart: the baseline fraction nonconforming is {center:g}; limits need "
                               "0 < p̄ < 1 (give --target)")
        if kind in ("c", "u") and not center > 0:
            raise SpcDataError(f"{kind} chart: the baseline has no nonconformities at all; give --target")
        return Limits(center=center, sigma=None, details={"points": float(len(keep))})
    groups = [samples.subgroups[i] for i in keep]
    details: dict[str, float] = {"points": float(len(groups))}
    source = "known" if mean is not None and sigma is not None else "estimated"
    if mean is None:
        mean = math.fsum(math.fsum(g) / len(g) for g in groups) / len(groups)
    if sigma is None:
        if kind in ("xbar-r", "xbar-s"):
            n = len(groups[0])
            if kind == "xbar-r":
                rbar = math.fsum(max(g) - min(g) for g in groups) / len(groups)
                sigma = rbar / d2(n)
                details["rbar"] = rbar
            else:
                sds = []
                for g in groups:
                    m = math.fsum(g) / n
                    sds.append(math.sqrt(math.fsum((v - m) ** 2 for v in g) / (n - 1)))
                sbar = math.fsum(sds) / len(sds)
                sigma = sbar / c4(n)
                details["sbar"] = sbar
        else:
            # Moving ranges only between points that were adjacent in the data and both kept.
            mrs = [abs(samples.subgroups[i][0] - samples.subgroups[i - 1][0]) for i in keep if i - 1 in kept]
            if not mrs:
                raise SpcDataError("need at least two consecutive measurements to estimate sigma from moving ranges")
            mrbar = math.fsum(mrs) / len(mrs)
            sigma = mrbar / d2(2)
            details["mrbar"] = mrbar
    return Limits(center=mean, sigma=sigma, source=source, details=details)


def phase_one(spec: ChartSpec, samples: Samples, *, mean: float | None = None, sigma: float | None = None,
              max_iterations: int = 10) -> PhaseOneResult:
    """Estimate frozen limits from a baseline: trial limits, drop points beyond them, recompute.

    `mean`/`sigma` fix known parameters (for attributes, `mean` is the standard p, c or u).
    """
    _check_samples(spec, samples)
    if sigma is not None and spec.kind in ATTRIBUTES_CHARTS:
        raise SpcConfigError(f"{spec.kind} chart: sigma follows from the standard value; give only the target")
    if sigma is not None and not sigma > 0:
        raise SpcConfigError(f"sigma must be > 0, got {sigma!r}")
    n_sub = subgroup_size(spec, samples)
    known = (mean is not None and (sigma is not None or spec.kind in ATTRIBUTES_CHARTS))
    keep = list(range(len(samples)))
    _need_points(spec, len(keep))
    limits = _estimate(spec, samples, keep, mean, sigma)
    if known:
        return PhaseOneResult(kind=spec.kind, limits=limits, initial_limits=limits, excluded=(), iterations=0,
                              converged=True)
    initial = limits
    # EWMA and CUSUM are cleaned through the individuals chart (see module docstring).
    probe_spec = ChartSpec(kind="imr", L=3.0, rules="limits") if spec.kind in ("ewma", "cusum") else \
        ChartSpec(kind=spec.kind, L=spec.width, rules="limits")
    history: list[tuple[int, ...]] = []
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        chart = build_chart(probe_spec, limits, subgroup_size=n_sub)
        points = run_chart(chart, samples)
        out = _beyond_limits(points, keep, individuals=spec.kind in ("imr", "ewma", "cusum"))
        if not out:
            converged = True
            break
        history.append(tuple(out))
        log.debug("phase I %s: iteration %d drops %s", spec.kind, iterations, out)
        dropped = set(out)
        keep = [i for i in keep if i not in dropped]
        _need_points(spec, len(keep))
        limits = _estimate(spec, samples, keep, mean, sigma)
    excluded = tuple(sorted(set(range(len(samples))) - set(keep)))
    if not converged:
        log.warning("phase I %s: still points beyond limits after %d iterations", spec.kind, max_iterations)
    return PhaseOneResult(kind=spec.kind, limits=limits, initial_limits=initial, excluded=excluded,
                          iterations=iterations, converged=converged, history=tuple(history))


def _beyond_limits(points: Sequence[ChartPoint], keep: Sequence[int], *, individuals: bool) -> list[int]:
    """Baseline points to drop: beyond the location limits, or with a dispersion point beyond its limits."""
    kept = set(keep)
    location = {i for i in keep if points[i].out_of_limits}
    out = set(location)
    for i in keep:
        d = points[i].dispersion
        if d is None or not d.out_of_limits:
            continue
        if not individuals:
            out.add(i)
        # A moving range spans points i−1 and i: it counts only when both are still in the
        # baseline, and a large MR next to a point already dropped is that point's doing
        # (one outlier makes two large moving ranges; only the outlier should go).
        elif i - 1 in kept and i - 1 not in location and i not in location:
            out.add(i)
    return sorted(out)


def _need_points(spec: ChartSpec, n: int) -> None:
    need = 2 if spec.kind in ("imr", "ewma", "cusum") else 1
    if n < need:
        raise SpcDataError(f"{spec.kind} chart: only {n} usable baseline point(s) left, need at least {need}")
