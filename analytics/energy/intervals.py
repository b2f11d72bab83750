"""Energy intervals and how to split them at time boundaries (hours, days, tariff periods).

Every energy figure in this package is an `EnergyInterval`: the energy consumed between two
instants, with flags saying how trustworthy it is. Splitting an interval assumes constant
power inside it (energy proportional to time), which is the only assumption available
without finer data; the last piece takes the remainder so the pieces always sum to the
original energy exactly — rollups and cost never create or lose kWh.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

from analytics.energy.errors import DataError


class IntervalKind(enum.StrEnum):
    """How an interval's energy was obtained."""

    NORMAL = "normal"
    ROLLOVER = "rollover"  # counter wrapped past its maximum
    RESET = "reset"  # counter dropped without wrapping (meter reset or replaced)
    GAP = "gap"  # the samples are further apart than the configured maximum interval


@dataclass(frozen=True, slots=True)
class EnergyInterval:
    """Energy consumed in [start, end) by one asset.

    `gap` is True when the interval spans missing data: its energy is known (counter delta)
    or estimated (power integration) once, for the whole interval, never interpolated into
    extra samples. `estimated` is True when the value is not measured (power integrated
    across a gap). `lost_kwh_unknown` is True when some energy could not be recovered
    (a reset: what was used between the last reading and the reset is gone).
    """

    start: datetime
    end: datetime
    energy_kwh: float
    kind: IntervalKind = IntervalKind.NORMAL
    gap: bool = False
    estimated: bool = False
    lost_kwh_unknown: bool = False

    @property
    def duration_s(self) -> float:
        """Length of the interval in seconds."""
        return (self.end - self.start).total_seconds()

    @property
    def flagged(self) -> bool:
        """True when anything about this interval deserves a second look."""
        return self.kind is not IntervalKind.NORMAL or self.gap or self.estimated or self.lost_kwh_unknown


def require_aware(ts: datetime, what: str = "timestamp") -> datetime:
    """Return `ts` in UTC; naive datetimes are refused because their zone is a guess."""
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise DataError(f"{what} {ts.isoformat()} has no time zone; give an offset (e.g. +08:00 or Z)")
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+08:00 is in year 0 in UTC, which datetime cannot hold
        raise DataError(f"{what} {ts.isoformat()} is out of range in UTC") from None


def split_at(interval: EnergyInterval, boundaries: Iterable[datetime]) -> list[EnergyInterval]:
    """Split an interval at the given instants, energy proportional to time.

    Boundaries outside (start, end) are ignored. The last piece takes the remainder so the
    sum of the pieces equals `interval.energy_kwh` exactly.
    """
    cuts = sorted({b for b in boundaries if interval.start < b < interval.end})
    if not cuts:
        return [interval]
    total_s = interval.duration_s
    edges = [interval.start, *cuts, interval.end]
    pieces: list[EnergyInterval] = []
    used_kwh = 0.0
    for i in range(len(edges) - 1):
        a, b = edges[i], edges[i + 1]
        if i == len(edges) - 2:
            e_kwh = interval.energy_kwh - used_kwh
        else:
            e_kwh = interval.energy_kwh * (b - a).total_seconds() / total_s if total_s > 0 else 0.0
            used_kwh += e_kwh
        pieces.append(replace(interval, start=a, end=b, energy_kwh=e_kwh))
    return pieces


def clip(interval: EnergyInterval, start: datetime, end: datetime) -> EnergyInterval | None:
    """The part of `interval` inside [start, end), energy proportional to time; None if disjoint."""
    if interval.end <= start or interval.start >= end:
        return None
    for piece in split_at(interval, (start, end)):
        if piece.start >= start and piece.end <= end:
            return piece
    return None  # pragma: no cover - split_at always yields the inside piece


def period_starts(start: datetime, end: datetime, period: str, tz: tzinfo) -> list[datetime]:
    """Starts (UTC) of the local hours or days that overlap [start, end).

    Days are local calendar days of the plant (a plant's "day" is its local midnight to
    midnight, not UTC's). Hours are computed in UTC then aligned: every zone in use by
    Chinese plants has whole-hour offsets, and hourly UTC alignment stays correct across DST.
    """
    if period == "hour":
        t = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
        out: list[datetime] = []
        while t < end:
            out.append(t)
            t += step
        return out
    if period == "day":
        local = start.astimezone(tz)
        day = local.date()
        out = []
        while True:
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            if midnight >= end:
                break
            out.append(midnight)
            day = day + timedelta(days=1)
        return out
    raise DataError(f"unknown rollup period {period!r}; use 'hour' or 'day'")


def next_period_start(t: datetime, period: str, tz: tzinfo) -> datetime:
    """Start (UTC) of the hour or local day after the one that begins at `t`."""
    if period == "hour":
        return t + timedelta(hours=1)
    local = t.astimezone(tz).date() + timedelta(days=1)
    return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)


def total_kwh(intervals: Sequence[EnergyInterval]) -> float:
    """Sum of the energy of the intervals (math.fsum: exact rounding of the float sum)."""
    return math.fsum(i.energy_kwh for i in intervals)
