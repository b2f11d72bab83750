"""Time-of-use cost, split exactly across period boundaries in Asia/Shanghai local time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics.energy.config import EXAMPLE_TARIFF_PATH, load_tariff
from analytics.energy.errors import ConfigError
from analytics.energy.intervals import EnergyInterval
from analytics.energy.tariffs import Period, Tariff, flat_tariff, window

SH = ZoneInfo("Asia/Shanghai")
PRICE = {"critical_peak": Decimal("1.32"), "peak": Decimal("1.10"), "flat": Decimal("0.65"),
         "valley": Decimal("0.30")}


@pytest.fixture(scope="module")
def tariff() -> Tariff:
    return load_tariff(EXAMPLE_TARIFF_PATH)


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def test_example_tariff_is_marked_illustrative(tariff: Tariff) -> None:
    assert tariff.source.startswith("illustrative, not a published tariff")
    assert "illustrative" in EXAMPLE_TARIFF_PATH.read_text(encoding="utf-8").splitlines()[0].lower()


def test_interval_crossing_valley_flat_and_peak_is_split_exactly(tariff: Tariff) -> None:
    # 06:30–08:30 at a constant 10 kW = 20 kWh: 5 kWh valley, 10 kWh flat, 5 kWh peak.
    iv = EnergyInterval(local(2026, 3, 2, 6, 30), local(2026, 3, 2, 8, 30), 20.0)
    c = tariff.cost([iv])
    expected = 5 * PRICE["valley"] + 10 * PRICE["flat"] + 5 * PRICE["peak"]  # 1.50 + 6.50 + 5.50
    assert expected == Decimal("13.50")
    assert round(c.cost_cny, 6) == float(expected)
    assert {p: round(pc.energy_kwh, 6) for p, pc in c.by_period.items()} == {
        Period.VALLEY: 5.0, Period.FLAT: 10.0, Period.PEAK: 5.0}
    assert round(c.energy_kwh, 6) == 20.0


def test_full_day_in_march_and_in_july_with_critical_peak(tariff: Tariff) -> None:
    # 10 kW all day, hourly intervals. March: 8 h valley, 8 h flat, 8 h peak.
    def day(mo: int) -> list[EnergyInterval]:
        midnight = local(2026, mo, 2, 0)
        return [EnergyInterval(midnight + timedelta(hours=h), midnight + timedelta(hours=h + 1), 10.0)
                for h in range(24)]
    march = 80 * PRICE["valley"] + 80 * PRICE["flat"] + 80 * PRICE["peak"]
    july = 80 * PRICE["valley"] + 80 * PRICE["flat"] + 70 * PRICE["peak"] + 10 * PRICE["critical_peak"]
    assert (march, july) == (Decimal("164.00"), Decimal("166.20"))
    assert round(tariff.cost(day(3)).cost_cny, 6) == float(march)
    jc = tariff.cost(day(7))
    assert round(jc.cost_cny, 6) == float(july)
    assert round(jc.by_period[Period.CRITICAL_PEAK].energy_kwh, 6) == 10.0


def test_interval_across_local_midnight_wraps_into_the_valley(tariff: Tariff) -> None:
    # 22:30–00:30 at 6 kW = 12 kWh: 22:30–23:00 flat (3 kWh), 23:00–00:30 valley (9 kWh).
    iv = EnergyInterval(local(2026, 3, 2, 22, 30), local(2026, 3, 3, 0, 30), 12.0)
    pieces = tariff.split(iv)
    assert [(p.start.astimezone(SH).strftime("%H:%M"), period) for p, period in pieces] == [
        ("22:30", Period.FLAT), ("23:00", Period.VALLEY), ("00:00", Period.VALLEY)]
    assert round(tariff.interval_cost_cny(iv), 6) == float(3 * PRICE["flat"] + 9 * PRICE["valley"])  # 4.65


def test_boundaries_are_local_time_not_utc(tariff: Tariff) -> None:
    # 08:00 Shanghai is 00:00 UTC: the peak starts there.
    assert tariff.period_at(datetime.fromisoformat("2026-03-02T00:00:00+00:00")) is Period.PEAK
    assert tariff.period_at(datetime.fromisoformat("2026-03-01T23:59:59+00:00")) is Period.FLAT


def test_pieces_sum_to_the_interval_exactly(tariff: Tariff) -> None:
    iv = EnergyInterval(local(2026, 7, 1, 5, 17), local(2026, 7, 3, 19, 41), 1234.5678)
    assert sum(p.energy_kwh for p, _ in tariff.split(iv)) == pytest.approx(1234.5678, abs=1e-9)


def test_missing_price_for_a_used_period_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no price for period"):
        Tariff(name="bad", prices_cny_per_kwh={Period.FLAT: 0.6}, windows=(window("08:00", "11:00", "peak"),))


def test_flat_tariff_prices_everything_the_same() -> None:
    t = flat_tariff(0.7)
    assert round(t.interval_cost_cny(EnergyInterval(local(2026, 1, 1, 0), local(2026, 1, 2, 0), 100.0)), 6) == 70.0
