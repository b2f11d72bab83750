"""Process capability: Cp, Cpk, Pp, Ppk, Cpm with confidence intervals and a normality check.

Definitions (Montgomery, *Introduction to SQC*, 7th ed., §8.3; AIAG SPC manual 2nd ed.):
    Cp  = (USL − LSL) / 6σ_w            Cpk = min(USL − μ, μ − LSL) / 3σ_w
    Pp  = (USL − LSL) / 6σ_o            Ppk = min(USL − μ, μ − LSL) / 3σ_o
    Cpm = (USL − LSL) / 6·√(σ_o² + (μ − T)²)                     (Montgomery §8.3.5)
σ_w is the within-subgroup (short-term) σ from the control chart (R̄/d2, s̄/c4, MR̄/d2 or a
known σ); σ_o is the overall sample standard deviation (n − 1 divisor). With one spec
limit only, Cp/Pp/Cpm are undefined and Cpk/Ppk are the one-sided indices Cpu or Cpl.

Confidence intervals (two-sided, level `confidence`), all assuming normal data:
- Cp, Pp: Ĉ·√(χ²_{α/2, ν}/ν) ≤ C ≤ Ĉ·√(χ²_{1−α/2, ν}/ν), ν = n − 1 (Montgomery §8.3.5).
  For Cp with σ_w from ranges this ν is an approximation (the range estimator has fewer
  effective degrees of freedom); it is exact for Pp.
- Cpk, Ppk: Ĉ ∓ z_{α/2}·√(1/(9n) + Ĉ²/(2(n − 1))) (Bissell 1990, "How reliable is your
  capability index?", Applied Statistics 39(3):331–340; Montgomery §8.3.5).
- Cpm: Ĉpm·√(χ²_{α/2, ν}/ν) ≤ Cpm ≤ Ĉpm·√(χ²_{1−α/2, ν}/ν) with
  ν = n(1 + a²)²/(1 + 2a²), a = (x̄ − T)/s (Boyles 1991, "The Taguchi capability index",
  JQT 23(1):17–26; Montgomery §8.3.5).

Normality: Shapiro–Wilk (scipy.stats.shapiro) for 3 ≤ n ≤ 5000, Anderson–Darling
(scipy.stats.anderson, 5 % critical value) beyond. The indices translate into ppm only for
normal data, so a rejection at 5 % adds a warning; so do fewer than 30 points (the CIs are
wide) and a process that is not in statistical control (then σ_w does not describe it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from analytics.spc.constants import d2
from analytics.spc.errors import SpcConfigError, SpcDataError
from analytics.spc.points import Estimate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NormalityTest:
    """Result of the normality check behind the capability indices."""

    test: str
    statistic: float
    p_value: float | None
    normal: bool
    alpha: float = 0.05

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"test": self.test, "statistic": self.statistic, "p_value": self.p_value, "normal": self.normal,
                "alpha": self.alpha}


@dataclass(frozen=True, slots=True)
class Capability:
    """Capability indices with confidence intervals; None where a spec limit needed is missing."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    target: float | None
    cp: Estimate | None
    cpk: Estimate | None
    pp: Estimate | None
    ppk: Estimate | None
    cpm: Estimate | None
    normality: NormalityTest | None
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        def est(e: Estimate | None) -> dict[str, Any] | None:
            return e.as_dict() if e is not None else None
        return {
            "n": self.n, "mean": self.mean, "sigma_within": self.sigma_within, "sigma_overall": self.sigma_overall,
            "lsl": self.lsl, "usl": self.usl, "target": self.target,
            "cp": est(self.cp), "cpk": est(self.cpk), "pp": est(self.pp), "ppk": est(self.ppk), "cpm": est(self.cpm),
            "normality": self.normality.as_dict() if self.normality else None, "warnings": list(self.warnings),
        }


def normality_test(values: ArrayLike, *, alpha: float = 0.05) -> NormalityTest | None:
    """Shapiro–Wilk for n ≤ 5000, Anderson–Darling above; None with fewer than 3 points."""
    x = np.asarray(values, dtype=float)
    if x.size < 3 or float(np.ptp(x)) == 0.0:
        return None
    if x.size <= 5000:
        res = stats.shapiro(x)
        p = float(res.pvalue)
        return NormalityTest("shapiro-wilk", float(res.statistic), p, p >= alpha, alpha)
    try:
        # SciPy >= 1.17 interpolates a p-value from Stephens' tables when asked to.
        ad = stats.anderson(x, dist="norm", method="interpolate")
    except TypeError:
        ad = None
    if ad is not None and hasattr(ad, "pvalue"):
        p_ad = float(ad.pvalue)
        return NormalityTest("anderson-darling", float(ad.statistic), p_ad, p_ad >= alpha, alpha)
    # Older SciPy: critical values tabled at 15, 10, 5, 2.5, 1 %; use the 5 % one.
    ad = stats.anderson(x, dist="norm")
    crit = float(ad.critical_values[list(ad.significance_level).index(5.0)])
    return NormalityTest("anderson-darling", float(ad.statistic), None, float(ad.statistic) < crit, 0.05)


def _ratio_ci(value: float, nu: float, confidence: float) -> Estimate:
    a = 1.0 - confidence
    lo = value * math.sqrt(stats.chi2.ppf(a / 2, nu) / nu)
    hi = value * math.sqrt(stats.chi2.ppf(1 - a / 2, nu) / nu)
    return Estimate(value, lo, hi, confidence)


def _bissell_ci(value: float, n: int, confidence: float) -> Estimate:
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    half = z * math.sqrt(1.0 / (9.0 * n) + value * value / (2.0 * (n - 1)))
    return Estimate(value, value - half, value + half, confidence)


def capability(values: ArrayLike, *, lsl: float | None = None, usl: float | None = None,
               target: float | None = None, sigma_within: float | None = None, confidence: float = 0.95,
               in_control: bool = True) -> Capability:
    """Capability of `values` against the spec limits.

    `sigma_within` is the short-term σ from the control chart; when None it is MR̄/d2(2) of
    `values` in their given order. `target` defaults to the spec midpoint for Cpm.
    `in_control=False` (the chart showed violations) adds a warning.
    """
    if lsl is None and usl is None:
        raise SpcConfigError("capability needs at least one specification limit (LSL or USL)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise SpcConfigError(f"LSL ({lsl}) must be below USL ({usl})")
    if not 0 < confidence < 1:
        raise SpcConfigError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n < 2:
        raise SpcDataError(f"capability needs at least 2 measurements, got {n}")
    mean = float(x.mean())
    s_overall = float(x.std(ddof=1))
    if sigma_within is None:
        sigma_within = float(np.abs(np.diff(x)).mean()) / d2(2)
    if not (s_overall > 0 and sigma_within > 0):
        raise SpcDataError("capability needs measurements that vary (standard deviation is 0)")
    if target is None and lsl is not None and usl is not None:
        target = (lsl + usl) / 2.0

    def spread(sig: float) -> float:
        return (usl - lsl) / (6.0 * sig)  # type: ignore[operator]

    def kappa(sig: float) -> float:
        parts = []
        if usl is not None:
            parts.append((usl - mean) / (3.0 * sig))
        if lsl is not None:
            parts.append((mean - lsl) / (3.0 * sig))
        return min(parts)

    two_sided = lsl is not None and usl is not None
    cp = _ratio_ci(spread(sigma_within), n - 1, confidence) if two_sided else None
    pp = _ratio_ci(spread(s_overall), n - 1, confidence) if two_sided else None
    cpk = _bissell_ci(kappa(sigma_within), n, confidence)
    ppk = _bissell_ci(kappa(s_overall), n, confidence)
    cpm = None
    if two_sided and target is not None:
        tau = math.sqrt(s_overall ** 2 + (mean - target) ** 2)
        a = (mean - target) / s_overall
        nu = n * (1 + a * a) ** 2 / (1 + 2 * a * a)
        cpm = _ratio_ci((usl - lsl) / (6.0 * tau), nu, confidence)  # type: ignore[operator]

    warnings: list[str] = []
    normality = normality_test(x)
    if normality is not None and not normality.normal:
        warnings.append(f"data do not look normal ({normality.test}"
                        + (f", p = {normality.p_value:.3g}" if normality.p_value is not None else "")
                        + "): the indices and their confidence intervals do not translate into defect rates")
    if n < 30:
        warnings.append(f"only {n} measurements: the confidence intervals are wide")
    if not in_control:
        warnings.append("the process is not in statistical control: capability indices are not meaningful "
                        "until the assignable causes are removed")
    for w in warnings:
        log.info("capability: %s", w)
    return Capability(n=n, mean=mean, sigma_within=sigma_within, sigma_overall=s_overall, lsl=lsl, usl=usl,
                      target=target, cp=cp, cpk=cpk, pp=pp, ppk=ppk, cpm=cpm, normality=normality,
                      warnings=tuple(warnings))
