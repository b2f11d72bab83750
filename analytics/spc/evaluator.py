"""The per-characteristic streaming evaluator the SPC service drives: `update(value, ts) -> ChartPoint | None`.

It wraps a Phase II chart from `analytics.spc.charts`. When the configuration gives the
process parameters (`center`, `sigma`) the chart starts at once. Otherwise the evaluator
first collects `baseline_points` chart points, runs Phase I on them (estimate, drop points
beyond the trial limits, re-estimate) and then *freezes* the limits. Why freeze: limits that
keep learning would absorb a slow drift and never signal it (Phase I vs Phase II, Montgomery §5.3; the same
reasoning as river's CUSUM reference window). During the baseline `update` returns None;
the Phase I chart of the baseline is then available as `baseline_points`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from analytics.spc.charts import Chart, XbarRChart, XbarSChart
from analytics.spc.config import CharacteristicSpc
from analytics.spc.errors import SpcDataError
from analytics.spc.phase1 import (
    ATTRIBUTES_CHARTS,
    ChartSpec,
    PhaseOneResult,
    Samples,
    build_chart,
    phase_one,
    run_chart,
)
from analytics.spc.points import ChartPoint, Limits

log = logging.getLogger(__name__)


class SpcEvaluator:
    """Streaming SPC for one characteristic (and product): baseline, then frozen-limit monitoring.

    >>> from analytics.spc.config import CharacteristicSpc
    >>> ev = SpcEvaluator(CharacteristicSpc(chart="imr", center=10.0, sigma=0.1))
    >>> ev.update(10.05).ucl
    10.3
    """

    def __init__(self, config: CharacteristicSpc, *, product: str | None = None, name: str = "") -> None:
        self.config = config
        self.product = product
        self.name = name
        self._cfg = config.for_product(product)
        self._spec: ChartSpec = self._cfg.chart_spec()
        self._chart: Chart | None = None
        self._phase_one: PhaseOneResult | None = None
        self._baseline_points: tuple[ChartPoint, ...] = ()
        self._groups: list[tuple[float, ...]] = []
        self._pending: list[float] = []
        self._counts: list[float] = []
        self._sizes: list[float] = []
        self._stamps: list[datetime | None] = []
        cfg = self._cfg
        attributes = cfg.chart in ATTRIBUTES_CHARTS
        if cfg.center is not None and (attributes or cfg.sigma is not None):
            self._freeze(Limits(center=cfg.center, sigma=cfg.sigma, source="known"), baseline=None)

    @property
    def phase(self) -> str:
        """"baseline" while collecting Phase I data, "monitoring" once limits are frozen."""
        return "baseline" if self._chart is None else "monitoring"

    @property
    def chart(self) -> Chart | None:
        """The frozen Phase II chart (None during the baseline)."""
        return self._chart

    @property
    def limits(self) -> Limits | None:
        """The frozen parameters (None during the baseline)."""
        return self._limits if self._chart is not None else None

    @property
    def phase_one(self) -> PhaseOneResult | None:
        """The Phase I result that produced the limits (None if they were known)."""
        return self._phase_one

    @property
    def baseline_points(self) -> tuple[ChartPoint, ...]:
        """The baseline charted with the frozen limits (empty if the limits were known)."""
        return self._baseline_points

    @property
    def spec(self) -> ChartSpec:
        """The chart specification in force."""
        return self._spec

    def reset(self) -> None:
        """Restart the chart's history (run rules, EWMA, CUSUM sums) with the same frozen limits.

        For use once an assignable cause was found and corrected: Montgomery §9.1 restarts the
        CUSUM at zero (or at the FIR head start) after such an action; without it a CUSUM or
        EWMA keeps signalling until it drifts back by itself. Does nothing during the baseline.
        """
        if self._chart is not None:
            self._chart = self._chart.clone()

    def discard_pending(self) -> int:
        """Drop a partly filled subgroup; return how many measurements were dropped.

        A rational subgroup is consecutive parts made under the same conditions (Montgomery
        §5.3.4): when the product changes, the parts buffered so far must not be completed
        by parts made after the next run of this product.
        """
        if self._chart is None:
            dropped, self._pending = len(self._pending), []
            return dropped
        if isinstance(self._chart, XbarRChart | XbarSChart):
            return self._chart.discard_pending()
        return 0

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint | None:
        """Add one measurement (or count with its `size`); return a chart point when one is complete."""
        if self._chart is not None:
            return self._chart.update(value, ts, size=size if size is not None else self._default_size())
        self._collect(float(value), ts, size)
        if len(self._stamps) >= self._cfg.baseline_points and len(self._stamps) % self._cfg.baseline_points == 0:
            self._try_phase_one()
        return None

    def _default_size(self) -> float | None:
        # np: the configured constant sample size; c: one inspection unit of constant size
        # (Montgomery §7.3.1), so a c chart streams bare counts. p and u need the size with each count.
        if self._cfg.chart == "np":
            return float(self._cfg.subgroup_size)
        return 1.0 if self._cfg.chart == "c" else None

    def _collect(self, value: float, ts: datetime | None, size: float | None) -> None:
        if self._cfg.chart in ATTRIBUTES_CHARTS:
            n = size if size is not None else self._default_size()
            if n is None:
                raise SpcDataError(f"{self._cfg.chart} chart needs the inspected size with each count")
            self._counts.append(value)
            self._sizes.append(float(n))
            self._stamps.append(ts)
            return
        self._pending.append(value)
        if len(self._pending) == self._cfg.subgroup_size:
            self._groups.append(tuple(self._pending))
            self._pending = []
            self._stamps.append(ts)

    def _try_phase_one(self) -> None:
        if self._cfg.chart in ATTRIBUTES_CHARTS:
            samples = Samples(counts=tuple(self._counts), sizes=tuple(self._sizes), timestamps=tuple(self._stamps))
        else:
            samples = Samples(subgroups=tuple(self._groups), timestamps=tuple(self._stamps))
        try:
            result = phase_one(self._spec, samples, mean=self._cfg.center, sigma=self._cfg.sigma)
        except SpcDataError as exc:
            # Keep collecting: a longer baseline may vary enough to estimate from.
            log.warning("SPC %s: Phase I failed after %d points, extending the baseline: %s",
                        self.name, len(self._stamps), exc)
            return
        self._phase_one = result
        self._freeze(result.limits, baseline=samples)

    def _freeze(self, limits: Limits, *, baseline: Samples | None) -> None:
        n = self._cfg.subgroup_size if self._cfg.chart in ("xbar-r", "xbar-s", "np") else None
        self._limits = limits
        if baseline is not None:
            # Chart the baseline with the frozen limits on a throwaway chart, then start fresh.
            self._baseline_points = tuple(run_chart(build_chart(self._spec, limits, subgroup_size=n), baseline))
            log.info("SPC %s: limits frozen after %d baseline points: centre %.6g, sigma %s", self.name,
                     len(baseline), limits.center, limits.sigma)
        self._chart = build_chart(self._spec, limits, subgroup_size=n)
        self._groups, self._counts, self._sizes, self._stamps = [], [], [], []
