"""Time-of-use electricity tariffs (尖峰 / 峰 / 平 / 谷) and the cost of energy intervals.

Chinese industrial tariffs price energy by time of day, and since NDRC's 2021 notice on
improving time-of-use pricing (发改价格〔2021〕1093号) provinces add a critical-peak (尖峰)
period in some months. A `Tariff` is a list of daily windows (local wall-clock times,
optionally limited to a set of months) and a price per period; time not covered by any
window is the flat (平) period unless configured otherwise.

Cost of an interval: the interval is cut at every window boundary (in the plant's local
time zone, via zoneinfo), energy is apportioned to the pieces by time (constant power
inside one metered interval), and each piece is priced at its period's price. Pieces sum
to the interval exactly.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from analytics.energy.errors import ConfigError
from analytics.energy.intervals import EnergyInterval, require_aware, split_at
from twin.timezones import UnknownTimeZone, zone

#: Default plant time zone: China uses one civil time zone (UTC+8, no DST).
DEFAULT_TZ = "Asia/Shanghai"


class Period(enum.StrEnum):
    """Time-of-use periods of Chinese tariffs."""

    CRITICAL_PEAK = "critical_peak"  # 尖峰
    PEAK = "peak"  # 峰
    FLAT = "flat"  # 平
    VALLEY = "valley"  # 谷
    DEEP_VALLEY = "deep_valley"  # 深谷 (some provinces, e.g. holiday middays)


@dataclass(frozen=True, slots=True)
class TariffWindow:
    """A daily window [start, end) of local time belonging to one period.

    `end == time(0)` means midnight at the end of the day; `end < start` wraps past midnight
    (e.g. 23:00–07:00). `months` limits the window to those months (1–12); empty = all year.
    """

    start: time
    end: time
    period: Period
    months: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ConfigError(f"tariff window {self.start}–{self.end} is empty")
        if any(m < 1 or m > 12 for m in self.months):
            raise ConfigError(f"tariff window months must be 1..12, got {sorted(self.months)}")

    def contains(self, local: datetime) -> bool:
        """True when the local wall-clock time falls in this window (and month)."""
        if self.months and local.month not in self.months:
            return False
        t = local.time().replace(tzinfo=None)
        if self.end == time(0):
            return t >= self.start
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True, slots=True)
class PeriodCost:
    """Energy and cost in one tariff period."""

    energy_kwh: float
    cost_cny: float


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost of some energy, total and per period."""

    cost_cny: float
    energy_kwh: float
    by_period: Mapping[Period, PeriodCost] = field(default_factory=dict)


@dataclass(frozen=True)
class Tariff:
    """A time-of-use tariff: windows resolve a local time to a period; the first match wins.

    List critical-peak windows before the peak windows they sit inside. Prices are CNY/kWh
    of energy only (capacity/demand charges, fund surcharges and VAT are outside this model).
    """

    name: str
    prices_cny_per_kwh: Mapping[Period, float]
    windows: tuple[TariffWindow, ...] = ()
    timezone: str = DEFAULT_TZ
    default_period: Period = Period.FLAT
    source: str = ""
    # Window edges per local date, computed once: a month of 1-minute intervals asks for the
    # same few dates hundreds of thousands of times.
    _edges_by_date: dict[date, tuple[datetime, ...]] = field(default_factory=dict, init=False, repr=False,
                                                            compare=False)

    def __post_init__(self) -> None:
        try:
            zone(self.timezone)
        except UnknownTimeZone as exc:
            raise ConfigError(f"tariff {self.name!r}: {exc}") from None
        used = {w.period for w in self.windows} | {self.default_period}
        missing = sorted(p.value for p in used if p not in self.prices_cny_per_kwh)
        if missing:
            raise ConfigError(f"tariff {self.name!r}: no price for period(s) {', '.join(missing)}")

    @property
    def tz(self) -> ZoneInfo:
        """The plant's time zone (ZoneInfo instances are cached by the zoneinfo module)."""
        return ZoneInfo(self.timezone)

    def period_at(self, ts: datetime) -> Period:
        """The period in force at instant `ts`."""
        local = require_aware(ts).astimezone(self.tz)
        for w in self.windows:
            if w.contains(local):
                return w.period
        return self.default_period

    def price_at(self, ts: datetime) -> float:
        """Price (CNY/kWh) in force at instant `ts`."""
        return self.prices_cny_per_kwh[self.period_at(ts)]

    def boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant (UTC) in (start, end) where the period may change.

        Window edges and local midnights (where a month-limited window may start or stop),
        computed per local date so the local wall-clock times map to the right instants.
        """
        tz = self.tz
        day = start.astimezone(tz).date()
        last_day = end.astimezone(tz).date()
        out: list[datetime] = []
        while day <= last_day:
            out.extend(t for t in self._edges(day) if start < t < end)
            day += timedelta(days=1)
        return out

    def _edges(self, day: date) -> tuple[datetime, ...]:
        """Instants (UTC, sorted) of local midnight and every window edge on a local date."""
        cached = self._edges_by_date.get(day)
        if cached is None:
            tz = self.tz
            times = {time(0)} | {w.start for w in self.windows} | {w.end for w in self.windows}
            cached = tuple(sorted(datetime.combine(day, t, tzinfo=tz).astimezone(UTC) for t in times))
            self._edges_by_date[day] = cached
        return cached

    def split(self, interval: EnergyInterval) -> list[tuple[EnergyInterval, Period]]:
        """Cut an interval at period boundaries; each piece with its period."""
        pieces = split_at(interval, self.boundaries(interval.start, interval.end))
        # The period of a piece is the period at its start: pieces never straddle a boundary.
        return [(p, self.period_at(p.start)) for p in pieces]

    def cost(self, intervals: Iterable[EnergyInterval]) -> CostBreakdown:
        """Cost of the intervals, split exactly across period boundaries."""
        energy: dict[Period, list[float]] = {}
        for iv in intervals:
            for piece, period in self.split(iv):
                energy.setdefault(period, []).append(piece.energy_kwh)
        by_period: dict[Period, PeriodCost] = {}
        for period in Period:
            if period in energy:
                e_kwh = math.fsum(energy[period])
                by_period[period] = PeriodCost(e_kwh, e_kwh * self.prices_cny_per_kwh[period])
        return CostBreakdown(
            cost_cny=math.fsum(pc.cost_cny for pc in by_period.values()),
            energy_kwh=math.fsum(pc.energy_kwh for pc in by_period.values()),
            by_period=by_period,
        )

    def interval_cost_cny(self, interval: EnergyInterval) -> float:
        """Cost of one interval."""
        return math.fsum(p.energy_kwh * self.prices_cny_per_kwh[period] for p, period in self.split(interval))


def flat_tariff(price_cny_per_kwh: float, *, name: str = "flat", timezone: str = DEFAULT_TZ) -> Tariff:
    """A single-price tariff (no time-of-use)."""
    return Tariff(name=name, prices_cny_per_kwh={Period.FLAT: price_cny_per_kwh}, timezone=timezone)


def _parse_time(text: str) -> time:
    """'HH:MM' → time; '24:00' is midnight at the end of the day."""
    if text in ("24:00", "24:00:00"):
        return time(0)
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"tariff window time {text!r} is not HH:MM") from exc


def window(start: str, end: str, period: Period | str, months: Sequence[int] = ()) -> TariffWindow:
    """Build a window from 'HH:MM' strings (convenience for config and tests)."""
    return TariffWindow(_parse_time(start), _parse_time(end), Period(period), frozenset(months))
