"""Average run length (ARL) by Monte Carlo simulation of the production streaming charts.

Each run builds a fresh chart with the same classes the streaming service uses
(`analytics.spc.charts`), in Phase II with μ = 0 and σ = 1, feeds it N(δ, 1) observations
(δ = the mean shift in σ, present from the first sample: the *zero-state* ARL) one at a
time through `update()`, and records the index of the first point that carries a
violation. The ARL is the mean run length and its standard error is the sample standard
deviation of the run lengths over √runs. Runs that hit `max_run_length` without a signal
are counted as censored and enter the mean at the cap (so the ARL is then a lower bound).

Published reference values this reproduces (tests/unit/spc/test_spc_arl.py):
- Shewhart individuals, 3σ: ARL₀ = 1/0.0027 = 370.4; at 1σ, 1/(Φ(−4) + Φ(−2)) = 43.9
  (ARL = 1/p for a Shewhart chart, Montgomery, *Introduction to SQC*, 7th ed., §5.3.3).
- Tabular CUSUM k = 0.5, h = 5: 465 in control and 10.4 at 1σ (Montgomery ch. 9, tabular-CUSUM ARL table).
- EWMA λ = 0.1, L = 2.814, asymptotic limits: 500 and 10.3 (Lucas & Saccucci 1990,
  Technometrics 32(1):1–12; reproduced in Montgomery ch. 9).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.spc.charts import Chart, CusumChart, EwmaChart, IndividualsChart
from analytics.spc.errors import SpcConfigError

log = logging.getLogger(__name__)

ARL_CHARTS = ("shewhart", "ewma", "cusum")


@dataclass(frozen=True, slots=True)
class ArlResult:
    """Simulated ARL with its Monte Carlo standard error and the run-length spread."""

    chart: str
    shift: float
    runs: int
    arl: float
    std_error: float
    sd_run_length: float
    ci_low: float
    ci_high: float
    median_run_length: float
    censored: int
    max_run_length: int
    seed: int | None
    parameters: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "chart": self.chart, "shift": self.shift, "runs": self.runs, "arl": self.arl,
            "std_error": self.std_error, "sd_run_length": self.sd_run_length,
            "ci95": [self.ci_low, self.ci_high], "median_run_length": self.median_run_length,
            "censored": self.censored, "max_run_length": self.max_run_length, "seed": self.seed,
            "parameters": self.parameters, "elapsed_s": self.elapsed_s,
        }


def chart_factory(chart: str, *, L: float | None = None, lam: float = 0.1, ewma_limits: str = "asymptotic",
                  k: float = 0.5, h: float = 5.0, headstart: float = 0.0,
                  rules: str = "limits") -> tuple[Callable[[], Chart], dict[str, Any]]:
    """A zero-argument constructor of a standardised (μ=0, σ=1) production chart, and its parameters."""
    if chart == "shewhart":
        width = 3.0 if L is None else L
        return (lambda: IndividualsChart(mean=0.0, sigma=1.0, L=width, rules=rules)), {"L": width, "rules": rules}
    if chart == "ewma":
        width = 2.814 if L is None else L
        return (lambda: EwmaChart(mean=0.0, sigma=1.0, lam=lam, L=width, limits=ewma_limits)), {
            "lambda": lam, "L": width, "limits": ewma_limits}
    if chart == "cusum":
        return (lambda: CusumChart(mean=0.0, sigma=1.0, k=k, h=h, headstart=headstart)), {
            "k": k, "h": h, "headstart": headstart}
    raise SpcConfigError(f"ARL chart must be one of {', '.join(ARL_CHARTS)}, got {chart!r}")


def run_length(chart: Chart, draw: Callable[[], list[float]], max_run_length: int) -> int:
    """Feed observations until the first point with a violation; return its 1-based position (or the cap)."""
    update = chart.update
    count = 0
    while True:
        for x in draw():
            count += 1
            point = update(x)
            # Location-chart violations only: the ARL of a Shewhart chart is that of its x chart.
            if point is not None and point.violations:
                return count
            if count >= max_run_length:
                return count


def simulate_arl(chart: str = "shewhart", *, shift: float = 0.0, runs: int = 1000, seed: int | None = None,
                 max_run_length: int = 1_000_000, **options: Any) -> ArlResult:
    """Estimate the zero-state ARL of a chart by simulation; see `chart_factory` for options."""
    if runs < 2:
        raise SpcConfigError(f"ARL needs at least 2 runs for a standard error, got {runs}")
    if not math.isfinite(shift):
        raise SpcConfigError(f"shift must be finite, got {shift!r}")
    if seed is not None and seed < 0:  # numpy's generators take seeds >= 0 only
        raise SpcConfigError(f"seed must be >= 0, got {seed}")
    if max_run_length < 1:
        raise SpcConfigError(f"max_run_length must be >= 1, got {max_run_length}")
    make, params = chart_factory(chart, **options)
    rng = np.random.default_rng(seed)
    # Blocks are sized to the expected run length so few random numbers go to waste.
    block = 64

    def draw() -> list[float]:
        values: list[float] = (rng.standard_normal(block) + shift).tolist()
        return values

    started = time.perf_counter()
    lengths = np.empty(runs, dtype=float)
    for i in range(runs):
        lengths[i] = run_length(make(), draw, max_run_length)
        if i == 9:
            block = int(min(4096, max(16, lengths[:10].mean())))
    arl = float(lengths.mean())
    sd = float(lengths.std(ddof=1))
    se = sd / math.sqrt(runs)
    censored = int((lengths >= max_run_length).sum())
    if censored:
        log.warning("ARL %s: %d of %d runs reached max_run_length=%d; the ARL is a lower bound",
                    chart, censored, runs, max_run_length)
    return ArlResult(chart=chart, shift=shift, runs=runs, arl=arl, std_error=se, sd_run_length=sd,
                     ci_low=arl - 1.96 * se, ci_high=arl + 1.96 * se, median_run_length=float(np.median(lengths)),
                     censored=censored, max_run_length=max_run_length, seed=seed, parameters=params,
                     elapsed_s=time.perf_counter() - started)
