"""Hourly and daily rollups: kWh, cost, kgCO2e, idle kWh and kWh per good part per asset.

A rollup record is plain data that a writer turns into one InfluxDB point of measurement
`energy` (docs/schema.md): tags site, area, line, asset, period (and product when known),
fields energy_kwh, cost_cny, co2e_kg, idle_kwh, good_parts, kwh_per_good_part, gap. The
point's time is the start of the hour or local day, so re-computing a bucket and writing it
again overwrites the earlier point (that is how late data and replays are absorbed).

Intervals are split at bucket edges (energy proportional to time); parts count in the bucket
where they were reported (a part is an event at its completion, not spread over time).

Sums are exact: each bucket keeps Shewchuk's non-overlapping partials of its energy, cost
and idle energy (`ExactSum`), whose `math.fsum` is the correctly rounded sum of every
piece added — the same float `math.fsum` over the list of pieces gives, in a few floats
instead of one per reading (a meter read every second adds 86 400 pieces to a day).
`dump_state()` / `load_state()` carry the open buckets across a restart with those partials,
so a restarted service's totals are bit for bit those of an uninterrupted one.

Live view: `RollupAccumulator.snapshot()` returns the open buckets as they stand without
closing them. Each record carries the bucket's *whole* content so far, never an increment,
so writing a snapshot after every batch and the final record when the bucket closes puts
one point per (asset, period, start) in InfluxDB, rewritten as it grows: nothing is
counted twice however often it is written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from analytics.energy.intervals import EnergyInterval, next_period_start, period_starts, split_at
from analytics.energy.kpis import IDLE_STATES, kwh_per_good_part
from analytics.energy.tariffs import DEFAULT_TZ, Tariff

RollupPeriod = Literal["hour", "day"]


@dataclass(frozen=True, slots=True)
class AssetRef:
    """Where an asset sits in the plant (ISA-95) and what it is making."""

    asset: str
    line: str = ""
    area: str = ""
    site: str = ""
    product: str | None = None


@dataclass(frozen=True, slots=True)
class LabeledInterval:
    """An energy interval of one asset, with the machine state and good parts reported at its end."""

    ref: AssetRef
    interval: EnergyInterval
    state: str | None = None
    good_parts: float = 0.0


@dataclass(frozen=True, slots=True)
class Pricing:
    """How energy becomes money and CO2e: a tariff (None: no cost) and a grid factor."""

    tariff: Tariff | None
    factor_kg_per_kwh: float

    def cost_cny(self, interval: EnergyInterval) -> float:
        """Cost of an interval (0 without a tariff)."""
        return self.tariff.interval_cost_cny(interval) if self.tariff is not None else 0.0

    def co2e_kg(self, energy_kwh: float) -> float:
        """Location-based CO2e of some energy."""
        return energy_kwh * self.factor_kg_per_kwh


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """One rollup bucket of one asset (and product)."""

    period: RollupPeriod
    start: datetime
    ref: AssetRef
    energy_kwh: float
    cost_cny: float
    co2e_kg: float
    idle_kwh: float
    good_parts: float
    gap: bool
    flagged: bool
    covered_s: float = 0.0  # metered time inside the bucket (less than the bucket while open or after gaps in data)

    measurement = "energy"

    @property
    def kwh_per_good_part(self) -> float | None:
        """ISO 50001 EnPI of the bucket; None without good parts."""
        return kwh_per_good_part(self.energy_kwh, self.good_parts)

    def tags(self) -> dict[str, str]:
        """InfluxDB tags (bounded values only); empty hierarchy levels are omitted."""
        t = {"site": self.ref.site, "area": self.ref.area, "line": self.ref.line, "asset": self.ref.asset,
             "period": self.period}
        if self.ref.product:
            t["product"] = self.ref.product
        return {k: v for k, v in t.items() if v}

    def fields(self) -> dict[str, float]:
        """InfluxDB fields, all floats (docs/schema.md); kwh_per_good_part only when defined (Influx has no null)."""
        f: dict[str, float] = {
            "energy_kwh": float(self.energy_kwh), "cost_cny": float(self.cost_cny), "co2e_kg": float(self.co2e_kg),
            "idle_kwh": float(self.idle_kwh), "good_parts": float(self.good_parts), "gap": 1.0 if self.gap else 0.0,
        }
        if (k := self.kwh_per_good_part) is not None:
            f["kwh_per_good_part"] = k
        return f


class ExactSum:
    """A running float sum without rounding error: `value` equals `math.fsum` of everything added.

    Shewchuk's algorithm (J. R. Shewchuk, "Adaptive Precision Floating-Point Arithmetic",
    Discrete Comput. Geom. 18 (1997) 305–363; R. Hettinger's `msum` recipe, the basis of
    `math.fsum`): the exact sum is kept as a few non-overlapping partials.

    >>> s = ExactSum()
    >>> for x in (0.1,) * 10:
    ...     s.add(x)
    >>> s.value == math.fsum([0.1] * 10) == 1.0
    True
    """

    __slots__ = ("_partials",)

    def __init__(self, partials: Iterable[float] = ()) -> None:
        self._partials = [float(p) for p in partials]

    def add(self, x: float) -> None:
        """Add one value."""
        partials = self._partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    @property
    def value(self) -> float:
        """The correctly rounded sum."""
        return math.fsum(self._partials)

    @property
    def partials(self) -> list[float]:
        """The partials (what a checkpoint keeps)."""
        return list(self._partials)


@dataclass
class _Bucket:
    energy: ExactSum = field(default_factory=ExactSum)
    cost: ExactSum = field(default_factory=ExactSum)
    idle: ExactSum = field(default_factory=ExactSum)
    good_parts: float = 0.0
    gap: bool = False
    flagged: bool = False
    covered_s: float = 0.0

    def dump_state(self) -> dict[str, Any]:
        return {"energy": self.energy.partials, "cost": self.cost.partials, "idle": self.idle.partials,
                "good_parts": self.good_parts, "gap": self.gap, "flagged": self.flagged, "covered_s": self.covered_s}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> _Bucket:
        return cls(ExactSum(s["energy"]), ExactSum(s["cost"]), ExactSum(s["idle"]), float(s["good_parts"]),
                   bool(s["gap"]), bool(s["flagged"]), float(s["covered_s"]))


class RollupAccumulator:
    """Streaming rollups: `update(labeled_interval)` returns the buckets that the new data closed.

    Per (asset, product) the intervals arrive in time order, so a bucket is complete once an
    interval of the same asset starts at or after its end. `flush()` returns what is left
    (partial buckets) — write them too: a later, complete version overwrites the point.
    """

    def __init__(self, *, period: RollupPeriod, pricing: Pricing, timezone: str = DEFAULT_TZ,
                 idle_states: frozenset[str] = IDLE_STATES) -> None:
        self.period: RollupPeriod = period
        self.pricing = pricing
        self.timezone = timezone
        self.idle_states = idle_states
        self._tz: tzinfo = ZoneInfo(timezone)
        self._buckets: dict[tuple[AssetRef, datetime], _Bucket] = {}

    def __repr__(self) -> str:
        return f"RollupAccumulator(period={self.period!r}, timezone={self.timezone!r})"

    def update(self, item: LabeledInterval) -> list[RollupRecord]:
        """Add one labelled interval; return buckets of this asset closed before it starts."""
        iv = item.interval
        starts = period_starts(iv.start, iv.end, self.period, self._tz)
        for piece in split_at(iv, starts[1:]):
            bucket_start = max(s for s in starts if s <= piece.start)
            b = self._buckets.setdefault((item.ref, bucket_start), _Bucket())
            b.energy.add(piece.energy_kwh)
            b.cost.add(self.pricing.cost_cny(piece))
            if item.state is not None and item.state in self.idle_states:
                b.idle.add(piece.energy_kwh)
            b.gap |= piece.gap
            b.flagged |= piece.flagged
            b.covered_s += piece.duration_s
        if item.good_parts:
            # Parts reported at the interval's end belong to the bucket containing that instant
            # (an end exactly on an edge closes the earlier bucket: the part finished by then).
            end_bucket = max(s for s in starts if s < iv.end)
            self._buckets.setdefault((item.ref, end_bucket), _Bucket()).good_parts += item.good_parts
        closed = [k for k in self._buckets
                  if k[0].asset == item.ref.asset and next_period_start(k[1], self.period, self._tz) <= iv.start]
        return [self._record(k, self._buckets.pop(k)) for k in sorted(closed, key=lambda k: (k[1], k[0].asset))]

    def snapshot(self) -> list[RollupRecord]:
        """Every open bucket as it stands, kept open (the live view of the current hour and day)."""
        keys = sorted(self._buckets, key=lambda k: (k[1], k[0].asset, k[0].product or ""))
        return [self._record(k, self._buckets[k]) for k in keys]

    def flush(self) -> list[RollupRecord]:
        """Return every open bucket (partial or complete) and forget them."""
        keys = sorted(self._buckets, key=lambda k: (k[1], k[0].asset, k[0].product or ""))
        return [self._record(k, self._buckets.pop(k)) for k in keys]

    def dump_state(self) -> list[dict[str, Any]]:
        """The open buckets, JSON-able (what a checkpoint keeps)."""
        return [{"ref": _ref_state(ref), "start": start.isoformat(), "bucket": b.dump_state()}
                for (ref, start), b in self._buckets.items()]

    def load_state(self, state: list[dict[str, Any]]) -> None:
        """Continue from `dump_state()` (replaces the open buckets)."""
        self._buckets = {(_ref_from(s["ref"]), datetime.fromisoformat(s["start"])): _Bucket.from_state(s["bucket"])
                         for s in state}

    def _record(self, key: tuple[AssetRef, datetime], b: _Bucket) -> RollupRecord:
        energy_kwh = b.energy.value
        return RollupRecord(period=self.period, start=key[1], ref=key[0], energy_kwh=energy_kwh,
                            cost_cny=b.cost.value, co2e_kg=self.pricing.co2e_kg(energy_kwh),
                            idle_kwh=b.idle.value, good_parts=b.good_parts, gap=b.gap, flagged=b.flagged,
                            covered_s=b.covered_s)


def _ref_state(ref: AssetRef) -> dict[str, Any]:
    return {"asset": ref.asset, "line": ref.line, "area": ref.area, "site": ref.site, "product": ref.product}


def _ref_from(s: dict[str, Any]) -> AssetRef:
    return AssetRef(asset=str(s["asset"]), line=str(s["line"]), area=str(s["area"]), site=str(s["site"]),
                    product=None if s["product"] is None else str(s["product"]))


def rollup(items: Iterable[LabeledInterval], *, period: RollupPeriod, pricing: Pricing,
           timezone: str = DEFAULT_TZ) -> list[RollupRecord]:
    """Batch rollups of labelled intervals, sorted by bucket start then asset."""
    acc = RollupAccumulator(period=period, pricing=pricing, timezone=timezone)
    out: list[RollupRecord] = []
    for item in items:
        out.extend(acc.update(item))
    out.extend(acc.flush())
    return sorted(out, key=lambda r: (r.start, r.ref.asset, r.ref.product or ""))


def totals(records: Iterable[RollupRecord]) -> Mapping[str, float]:
    """Sum of energy, cost, CO2e, idle energy and good parts over records."""
    rs = list(records)
    return {
        "energy_kwh": math.fsum(r.energy_kwh for r in rs),
        "cost_cny": math.fsum(r.cost_cny for r in rs),
        "co2e_kg": math.fsum(r.co2e_kg for r in rs),
        "idle_kwh": math.fsum(r.idle_kwh for r in rs),
        "good_parts": math.fsum(r.good_parts for r in rs),
    }
