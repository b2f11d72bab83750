"""The per-characteristic streaming evaluator the SPC service drives: `update(value, ts) -> ChartPoint | None`.

It wraps a Phase II chart from `analytics.spc.charts`. When the configuration gives the
process parameters (`center`, `sigma`) the chart starts at once. Otherwise the evaluator
first collects `baseline_points` chart points, runs Phase I on them (estimate, drop points
beyond the trial limits, re-estimate) and then *freezes* the limits. Why freeze: limits that
keep learning would absorb a slow drift and never signal it (Phase I vs Phase II, Montgomery §5.3; the same
reasoning as river's CUSUM reference window). During the baseline `update` returns None;
the Phase I chart of the baseline is then available as `baseline_points`, and
`baseline_info` says which data the limits were estimated from (what the SPC service
records in the limits store, analytics/spc/store.py).

Limits from elsewhere — a quality engineer's, or those stored before a restart — are put in
force with `use_limits`. `dump_state()` / `load_state()` carry the whole evaluator (baseline
data, or frozen limits plus the chart's history) across a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from analytics.state import SnapshotError, ts_in, ts_out

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BaselineInfo:
    """Which data a Phase I estimate came from: source times of its first and last measurement, how many."""

    first_ts: datetime | None
    last_ts: datetime | None
    samples: int  # measurements (or counts) in the baseline
    points: int  # chart points (subgroups or samples)
    excluded: int = 0  # points Phase I dropped beyond the trial limits
    iterations: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (timestamps as ISO 8601)."""
        return {"first_ts": ts_out(self.first_ts), "last_ts": ts_out(self.last_ts), "samples": self.samples,
                "points": self.points, "excluded": self.excluded, "iterations": self.iterations}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaselineInfo:
        """The inverse of `as_dict`."""
        return cls(ts_in(d["first_ts"]), ts_in(d["last_ts"]), int(d["samples"]), int(d["points"]),
                   int(d.get("excluded", 0)), int(d.get("iterations", 0)))


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
        self._first_ts: datetime | None = None  # first measurement of the baseline's first complete subgroup
        self._pending_ts0: datetime | None = None  # first measurement of the subgroup being filled
        self._baseline_info: BaselineInfo | None = None
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
    def baseline_info(self) -> BaselineInfo | None:
        """The data the frozen limits were estimated from (None while collecting, or for known/given limits)."""
        return self._baseline_info

    @property
    def spec(self) -> ChartSpec:
        """The chart specification in force."""
        return self._spec

    @property
    def known(self) -> bool:
        """True when the configuration gives the process parameters (no Phase I; nothing to store)."""
        cfg = self._cfg
        return cfg.center is not None and (cfg.chart in ATTRIBUTES_CHARTS or cfg.sigma is not None)

    @property
    def subgroup_size(self) -> int | None:
        """The subgroup (np: sample) size the chart is built with, None for individuals and p, c, u."""
        return self._cfg.subgroup_size if self._cfg.chart in ("xbar-r", "xbar-s", "np") else None

    def use_limits(self, limits: Limits, *, baseline: BaselineInfo | None = None) -> None:
        """Chart against these limits from the next measurement on (no Phase I): a fresh chart, baseline data dropped.

        For limits a quality engineer set, or limits estimated before a restart
        (`baseline` then says from which data). SpcConfigError/SpcDataError when the
        chart cannot be built with them.
        """
        build_chart(self._spec, limits, subgroup_size=self.subgroup_size)  # raises before anything changes
        self._phase_one, self._baseline_points = None, ()
        self._freeze(limits, baseline=None)
        self._baseline_info = baseline

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
            dropped, self._pending, self._pending_ts0 = len(self._pending), [], None
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
        if not self._pending:
            self._pending_ts0 = ts
        self._pending.append(value)
        if len(self._pending) == self._cfg.subgroup_size:
            self._groups.append(tuple(self._pending))
            if not self._stamps:
                self._first_ts = self._pending_ts0
            self._pending, self._pending_ts0 = [], None
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
        first = self._first_ts if self._cfg.chart not in ATTRIBUTES_CHARTS else self._stamps[0]
        info = BaselineInfo(first_ts=first, last_ts=self._stamps[-1],
                            samples=len(samples.counts) if samples.counts else len(samples.values),
                            points=len(samples), excluded=len(result.excluded), iterations=result.iterations)
        self._freeze(result.limits, baseline=samples)
        self._baseline_info = info

    def _freeze(self, limits: Limits, *, baseline: Samples | None) -> None:
        n = self.subgroup_size
        self._limits = limits
        if baseline is not None:
            # Chart the baseline with the frozen limits on a throwaway chart, then start fresh.
            self._baseline_points = tuple(run_chart(build_chart(self._spec, limits, subgroup_size=n), baseline))
            log.info("SPC %s: limits frozen after %d baseline points: centre %.6g, sigma %s", self.name,
                     len(baseline), limits.center, limits.sigma)
        self._chart = build_chart(self._spec, limits, subgroup_size=n)
        self._groups, self._counts, self._sizes, self._stamps = [], [], [], []
        self._pending, self._pending_ts0, self._first_ts = [], None, None

    # -- checkpoints ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, Any]:
        """Everything the evaluator has learnt, JSON-able: the baseline so far, or the frozen limits and the chart."""
        if self._chart is None:
            return {"phase": "baseline", "groups": [list(g) for g in self._groups], "pending": list(self._pending),
                    "pending_ts0": ts_out(self._pending_ts0), "first_ts": ts_out(self._first_ts),
                    "counts": list(self._counts), "sizes": list(self._sizes),
                    "stamps": [ts_out(t) for t in self._stamps]}
        lim = self._limits
        return {"phase": "monitoring",
                "limits": {"center": lim.center, "sigma": lim.sigma, "source": lim.source, "details": lim.details},
                "chart": self._chart.dump_state(),
                "baseline": self._baseline_info.as_dict() if self._baseline_info is not None else None}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of an evaluator of this configuration; SnapshotError when it does not fit."""
        try:
            if state["phase"] == "baseline":
                groups = [tuple(float(v) for v in g) for g in state["groups"]]
                pending = [float(v) for v in state["pending"]]
                counts, sizes = [float(v) for v in state["counts"]], [float(v) for v in state["sizes"]]
                stamps = [ts_in(t) for t in state["stamps"]]
                pending_ts0, first_ts = ts_in(state["pending_ts0"]), ts_in(state["first_ts"])
                if len(stamps) != (len(counts) if self._cfg.chart in ATTRIBUTES_CHARTS else len(groups)):
                    raise SnapshotError("baseline timestamps do not match its data")
                if self.known:
                    raise SnapshotError("a baseline for a chart whose limits the plant file gives")
                self._chart, self._phase_one, self._baseline_points, self._baseline_info = None, None, (), None
                self._groups, self._pending, self._counts, self._sizes, self._stamps = (
                    groups, pending, counts, sizes, stamps)
                self._pending_ts0, self._first_ts = pending_ts0, first_ts
                return
            if state["phase"] != "monitoring":
                raise SnapshotError(f"unknown phase {state['phase']!r}")
            lim = state["limits"]
            limits = Limits(center=float(lim["center"]), sigma=None if lim["sigma"] is None else float(lim["sigma"]),
                            source=str(lim["source"]), details={k: float(v) for k, v in lim["details"].items()})
            chart = build_chart(self._spec, limits, subgroup_size=self.subgroup_size)
            chart.load_state(state["chart"])
            info = BaselineInfo.from_dict(state["baseline"]) if state["baseline"] is not None else None
        except (KeyError, TypeError, ValueError) as exc:  # SpcError is a ValueError too
            raise SnapshotError(f"SPC {self.name}: evaluator state does not fit: {type(exc).__name__}: {exc}") from None
        self._freeze(limits, baseline=None)
        self._chart, self._phase_one, self._baseline_points, self._baseline_info = chart, None, (), info
