"""Control-chart constants (d2, d3, c4 and the A/B/D factors derived from them) for n = 2..25.

Source: ASTM E2587-16 "Standard Practice for Use of Control Charts in Statistical Process
Control", Table 1, which is the same table as Montgomery, *Introduction to Statistical
Quality Control*, 7th ed., Appendix VI ("Factors for constructing variables control
charts"). The tables print 3-4 decimals; the values below carry 5 because they were
recomputed here by numerical integration of the distribution of the range of n standard
normal variables (Tippett 1925):

    d2(n) = ∫ [1 − Φ(x)^n − (1 − Φ(x))^n] dx                  (mean of the relative range)
    d3(n)² = 2 ∫∫_{x<y} [1 − Φ(y)^n − (1 − Φ(x))^n + (Φ(y) − Φ(x))^n] dx dy − d2(n)²

and agree with every tabled digit (tests/unit/spc/test_spc_constants.py checks this).
c4 is exact: c4(n) = sqrt(2/(n−1)) · Γ(n/2) / Γ((n−1)/2)  (Montgomery Appendix VI; ASTM E2587 §8).

The factors follow from d2, d3, c4 with the 3-sigma definitions (Montgomery §6.2, §6.3):

    A2 = 3/(d2·√n)      D3 = max(0, 1 − 3·d3/d2)   D4 = 1 + 3·d3/d2
    D1 = max(0, d2 − 3·d3)                          D2 = d2 + 3·d3
    A3 = 3/(c4·√n)      B3 = max(0, 1 − 3·√(1−c4²)/c4)   B4 = 1 + 3·√(1−c4²)/c4
    B5 = max(0, c4 − 3·√(1−c4²))                    B6 = c4 + 3·√(1−c4²)
    A  = 3/√n
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.spc.errors import SpcConfigError

#: Largest subgroup size with tabled constants (ASTM E2587 Table 1 stops at 25; beyond it
#: the R chart loses too much efficiency and the S chart should be used).
MAX_SUBGROUP = 25

# n: (d2, d3) — ASTM E2587 Table 1 / Montgomery Appendix VI, recomputed to 5 decimals.
_D2_D3: dict[int, tuple[float, float]] = {
    2: (1.12838, 0.85250),
    3: (1.69257, 0.88837),
    4: (2.05875, 0.87981),
    5: (2.32593, 0.86408),
    6: (2.53441, 0.84804),
    7: (2.70436, 0.83321),
    8: (2.84720, 0.81983),
    9: (2.97003, 0.80783),
    10: (3.07751, 0.79705),
    11: (3.17287, 0.78731),
    12: (3.25846, 0.77848),
    13: (3.33598, 0.77042),
    14: (3.40676, 0.76302),
    15: (3.47183, 0.75621),
    16: (3.53198, 0.74991),
    17: (3.58788, 0.74405),
    18: (3.64006, 0.73859),
    19: (3.68896, 0.73348),
    20: (3.73495, 0.72869),
    21: (3.77834, 0.72417),
    22: (3.81938, 0.71991),
    23: (3.85832, 0.71589),
    24: (3.89535, 0.71207),
    25: (3.93063, 0.70844),
}


@dataclass(frozen=True, slots=True)
class Factors:
    """All variables-chart factors for one subgroup size n (3-sigma definitions)."""

    n: int
    d2: float
    d3: float
    c4: float
    A: float
    A2: float
    A3: float
    B3: float
    B4: float
    B5: float
    B6: float
    D1: float
    D2: float
    D3: float
    D4: float


def c4(n: int) -> float:
    """Exact c4(n) = E[s]/σ for n normal observations (Montgomery Appendix VI)."""
    if n < 2:
        raise SpcConfigError(f"c4 needs a subgroup size of at least 2, got {n}")
    # lgamma keeps this finite for large n where Γ itself overflows.
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def d2(n: int) -> float:
    """Mean of the relative range of n normal observations (ASTM E2587 Table 1)."""
    return _lookup(n)[0]


def d3(n: int) -> float:
    """Standard deviation of the relative range of n normal observations (ASTM E2587 Table 1)."""
    return _lookup(n)[1]


def _lookup(n: int) -> tuple[float, float]:
    try:
        return _D2_D3[n]
    except KeyError:
        raise SpcConfigError(f"subgroup size must be between 2 and {MAX_SUBGROUP}, got {n}") from None


def factors(n: int) -> Factors:
    """The full row of control-chart factors for subgroup size n (2..25)."""
    d2n, d3n = _lookup(n)
    c4n = c4(n)
    root_n = math.sqrt(n)
    spread_s = 3.0 * math.sqrt(1.0 - c4n * c4n)
    return Factors(
        n=n, d2=d2n, d3=d3n, c4=c4n,
        A=3.0 / root_n,
        A2=3.0 / (d2n * root_n),
        A3=3.0 / (c4n * root_n),
        B3=max(0.0, 1.0 - spread_s / c4n),
        B4=1.0 + spread_s / c4n,
        B5=max(0.0, c4n - spread_s),
        B6=c4n + spread_s,
        D1=max(0.0, d2n - 3.0 * d3n),
        D2=d2n + 3.0 * d3n,
        D3=max(0.0, 1.0 - 3.0 * d3n / d2n),
        D4=1.0 + 3.0 * d3n / d2n,
    )
