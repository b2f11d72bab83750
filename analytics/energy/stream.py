"""Per-asset streaming tracker: one call per meter reading → intervals, rollups and waste findings.

This is what the energy streaming service holds per meter: it bundles the integrator
(counter or power), the hourly and daily rollup accumulators and, when a standby threshold
is configured, the idle-waste detector, behind one verb, `update(ts, value, ...)`. The
service maps readings to calls and outputs to InfluxDB points (`RollupRecord.tags/fields`)
and alert events (`Finding.key/status/message/details`: status open → firing, closed → cleared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from analytics.energy.counters import CounterIntegrator, CounterSettings, PowerIntegrator
from analytics.energy.intervals import EnergyInterval
from analytics.energy.kpis import IDLE_STATES, Finding, IdleWasteDetector
from analytics.energy.rollups import AssetRef, LabeledInterval, Pricing, RollupAccumulator, RollupRecord
from analytics.energy.tariffs import DEFAULT_TZ


@dataclass(frozen=True, slots=True)
class TrackerOutput:
    """What one reading produced."""

    interval: EnergyInterval | None = None
    records: list[RollupRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class AssetEnergyTracker:
    """Energy of one asset from its meter readings, rolled up hourly and daily, with waste findings."""

    def __init__(self, *, ref: AssetRef, kind: Literal["counter", "power"], pricing: Pricing,
                 settings: CounterSettings | None = None, timezone: str = DEFAULT_TZ,
                 standby_threshold_kw: float | None = None, waste_min_duration_s: float = 600.0,
                 idle_states: frozenset[str] = IDLE_STATES) -> None:
        self.ref = ref
        self.kind = kind
        self.settings = settings if settings is not None else CounterSettings()
        self._integrator: CounterIntegrator | PowerIntegrator = (
            CounterIntegrator(self.settings) if kind == "counter"
            else PowerIntegrator(max_interval_s=self.settings.max_interval_s))
        self._rollups = [RollupAccumulator(period=p, pricing=pricing, timezone=timezone, idle_states=idle_states)
                         for p in ("hour", "day")]
        self._waste = (IdleWasteDetector(asset=ref.asset, standby_threshold_kw=standby_threshold_kw,
                                         min_duration_s=waste_min_duration_s, idle_states=idle_states)
                       if standby_threshold_kw is not None else None)

    def __repr__(self) -> str:
        return f"AssetEnergyTracker(ref={self.ref!r}, kind={self.kind!r})"

    def update(self, ts: datetime, value: float, *, state: str | None = None, good_parts: float = 0.0,
               product: str | None = None) -> TrackerOutput:
        """Take one reading (kWh counter or kW, per `kind`) with the machine state in force since the last
        reading (the interval's state) and the good parts completed since the last."""
        iv = self._integrator.update(ts, value)
        if iv is None:
            return TrackerOutput()
        ref = self.ref if product is None or product == self.ref.product else _with_product(self.ref, product)
        item = LabeledInterval(ref, iv, state=state, good_parts=good_parts)
        records = [r for acc in self._rollups for r in acc.update(item)]
        findings: list[Finding] = []
        if self._waste is not None and state is not None:
            # A counter gives no instantaneous power: use the interval's mean power, which is what
            # the meter can say about how much the machine drew while in this state.
            # That mean power held over [start, end) is a sample at the interval's start (the
            # detector holds each sample's power until the next one).
            if self.kind == "power":
                findings = self._waste.update(ts, value, state)
            else:
                findings = self._waste.update(iv.start, iv.energy_kwh / (iv.duration_s / 3600.0), state)
        return TrackerOutput(iv, records, findings)

    @property
    def last_ts(self) -> datetime | None:
        """Time of the last accepted reading: where the next interval starts."""
        last = self._integrator.last
        return last[0] if last is not None else None

    def snapshot(self) -> list[RollupRecord]:
        """Open buckets as they stand, kept open: write them for a live view; later versions overwrite them."""
        return [r for acc in self._rollups for r in acc.snapshot()]

    def flush(self) -> list[RollupRecord]:
        """Open (partial) buckets, to write now; a complete version overwrites them later."""
        return [r for acc in self._rollups for r in acc.flush()]

    def dump_state(self) -> dict[str, Any]:
        """The last reading, the open hour and day buckets and the waste episode, JSON-able.

        (Not `snapshot()`, which is the open buckets as records for the live view.)
        """
        return {"kind": self.kind, "integrator": self._integrator.dump_state(),
                "rollups": {acc.period: acc.dump_state() for acc in self._rollups},
                "waste": self._waste.episodes.dump_state() if self._waste is not None else None}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of a tracker of the same kind."""
        if state["kind"] != self.kind:
            raise ValueError(f"state of a {state['kind']} meter for a {self.kind} meter")
        self._integrator.load_state(state["integrator"])
        for acc in self._rollups:
            acc.load_state(state["rollups"][acc.period])
        if self._waste is not None and state["waste"] is not None:
            self._waste.episodes.load_state(state["waste"])


def _with_product(ref: AssetRef, product: str) -> AssetRef:
    return AssetRef(asset=ref.asset, line=ref.line, area=ref.area, site=ref.site, product=product)
