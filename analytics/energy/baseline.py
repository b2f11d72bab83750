"""ISO 50001 energy baseline (EnB): a regression of energy on its relevant variables.

Over a reference period (e.g. one year of daily or weekly values) energy is modelled as

    E = b0 + b1·x1 + ... + bk·xk

with x the relevant variables (production, good parts, degree days ...), fitted by ordinary
least squares (numpy.linalg.lstsq). For a later period the model gives the *expected*
energy at that period's activity; the deviation actual − expected, absolute and in percent
of expected, is the energy-performance KPI (ISO 50001:2018 §6.4–6.5, ISO 50006:2014 on
baselines and normalisation). Positive deviation = more energy than the baseline predicts.

A weak model normalises badly, so the fit reports R², adjusted R² and CV(RMSE) and warns
when R² is below `min_r2` (default 0.75, a widely used rule of thumb; ISO 50006 leaves the
acceptance criterion to the organisation) or when there are too few points per variable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.energy.errors import DataError

log = logging.getLogger(__name__)

#: Base temperatures for degree days. 18 °C (heating) and 26 °C (cooling) are the bases of
#: HDD18 / CDD26 used in Chinese building-energy design standards; configurable per plant.
HDD_BASE_C = 18.0
CDD_BASE_C = 26.0


def heating_degree_days(daily_mean_temp_c: Sequence[float], base_c: float = HDD_BASE_C) -> float:
    """Sum over days of max(0, base − mean temperature)."""
    return math.fsum(max(0.0, base_c - t) for t in daily_mean_temp_c)


def cooling_degree_days(daily_mean_temp_c: Sequence[float], base_c: float = CDD_BASE_C) -> float:
    """Sum over days of max(0, mean temperature − base)."""
    return math.fsum(max(0.0, t - base_c) for t in daily_mean_temp_c)


@dataclass(frozen=True, slots=True)
class Deviation:
    """Actual vs expected energy for one period."""

    actual_kwh: float
    expected_kwh: float
    deviation_kwh: float
    deviation_pct: float | None


@dataclass(frozen=True, slots=True)
class Baseline:
    """A fitted energy baseline: E = intercept + Σ coefficient·variable."""

    variables: tuple[str, ...]
    intercept_kwh: float
    coefficients: tuple[float, ...]
    r2: float
    adj_r2: float
    cv_rmse: float
    n: int
    weak: bool
    warnings: tuple[str, ...]

    def expected_kwh(self, values: Mapping[str, float]) -> float:
        """Energy the baseline predicts for these variable values."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise DataError(f"baseline needs values for {', '.join(missing)}")
        return self.intercept_kwh + math.fsum(c * values[v] for c, v in zip(self.coefficients, self.variables,
                                                                             strict=True))

    def deviation(self, actual_kwh: float, values: Mapping[str, float]) -> Deviation:
        """Actual − expected, absolute (kWh) and in % of expected (None when expected is 0)."""
        expected = self.expected_kwh(values)
        diff = actual_kwh - expected
        return Deviation(actual_kwh, expected, diff, 100.0 * diff / expected if expected != 0 else None)


def fit_baseline(energy_kwh: Sequence[float], variables: Mapping[str, Sequence[float]], *,
                 min_r2: float = 0.75) -> Baseline:
    """Fit the baseline over the reference period (one row per period: energy and variables)."""
    names = tuple(variables)
    y = np.asarray(energy_kwh, dtype=float)
    n, k = len(y), len(names)
    if any(len(variables[v]) != n for v in names):
        raise DataError("every variable needs one value per energy value")
    if n < k + 2:
        raise DataError(f"baseline with {k} variable(s) needs at least {k + 2} periods, got {n}")
    x = np.column_stack([np.ones(n), *(np.asarray(variables[v], dtype=float) for v in names)])
    coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    warnings: list[str] = []
    if rank < k + 1:
        warnings.append("variables are collinear (or constant): coefficients are not unique")
    residuals = y - x @ coef
    ss_res = float(residuals @ residuals)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    adj_r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - k - 1)
    # CV(RMSE) with n − k − 1 degrees of freedom, as in ASHRAE Guideline 14 and IPMVP.
    cv_rmse = math.sqrt(ss_res / (n - k - 1)) / float(y.mean()) if y.mean() != 0 else math.inf
    if r2 < min_r2:
        warnings.append(f"weak model: R² = {r2:.3f} < {min_r2}; the variables explain little of the energy")
    if n < 10 * max(k, 1) // 2:
        # Fewer than ~5 points per variable over-fits; a year of monthly data (12) with 2 variables passes.
        warnings.append(f"only {n} periods for {k} variable(s): the fit may not generalise")
    for w in warnings:
        log.warning("energy baseline: %s", w)
    return Baseline(variables=names, intercept_kwh=float(coef[0]), coefficients=tuple(float(c) for c in coef[1:]),
                    r2=r2, adj_r2=adj_r2, cv_rmse=cv_rmse, n=n, weak=bool(r2 < min_r2 or rank < k + 1),
                    warnings=tuple(warnings))
