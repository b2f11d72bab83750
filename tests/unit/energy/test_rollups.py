"""Hourly and daily rollups: gap energy split once, local days, Influx-ready tags and fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from analytics.energy.intervals import EnergyInterval, IntervalKind
from analytics.energy.rollups import AssetRef, LabeledInterval, Pricing, RollupAccumulator, rollup
from analytics.energy.tariffs import flat_tariff

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
REF = AssetRef(asset="cnc-01", line="L1", area="machining", site="plant-a", product="P-100")
PRICING = Pricing(tariff=flat_tariff(0.5), factor_kg_per_kwh=0.5306)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_gap_energy_is_split_across_hours_once_and_both_hours_flagged() -> None:
    # A counter gap from 00:20 to 01:20 with a delta of 15 kWh: 40 min in hour 0, 20 min in hour 1.
    gap = EnergyInterval(at(20), at(80), 15.0, kind=IntervalKind.GAP, gap=True)
    items = [LabeledInterval(REF, EnergyInterval(at(0), at(20), 2.0)), LabeledInterval(REF, gap)]
    recs = rollup(items, period="hour", pricing=PRICING)
    assert [(r.start, round(r.energy_kwh, 6), r.gap) for r in recs] == [(at(0), 12.0, True), (at(60), 5.0, True)]
    assert round(sum(r.energy_kwh for r in recs), 6) == 17.0
    assert round(recs[0].cost_cny, 6) == 6.0 and round(recs[0].co2e_kg, 6) == round(12.0 * 0.5306, 6)


def test_daily_rollup_uses_the_plant_local_day() -> None:
    # Shanghai midnight is 16:00 UTC: an interval 15:00–17:00 UTC straddles two plant days.
    iv = EnergyInterval(datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 17, tzinfo=UTC), 8.0)
    recs = rollup([LabeledInterval(REF, iv, good_parts=4)], period="day", pricing=PRICING)
    sh = ZoneInfo("Asia/Shanghai")
    assert [r.start.astimezone(sh).date().isoformat() for r in recs] == ["2026-03-02", "2026-03-03"]
    assert [round(r.energy_kwh, 6) for r in recs] == [4.0, 4.0]
    assert [r.good_parts for r in recs] == [0.0, 4.0]  # parts count where they were reported


def test_record_tags_and_fields_follow_the_schema() -> None:
    recs = rollup([LabeledInterval(REF, EnergyInterval(at(0), at(30), 3.0), state="idle", good_parts=12)],
                  period="hour", pricing=PRICING)
    r = recs[0]
    assert r.measurement == "energy"
    assert r.tags() == {"site": "plant-a", "area": "machining", "line": "L1", "asset": "cnc-01", "period": "hour",
                        "product": "P-100"}
    f = r.fields()
    assert set(f) == {"energy_kwh", "cost_cny", "co2e_kg", "idle_kwh", "good_parts", "gap", "kwh_per_good_part"}
    assert (round(f["energy_kwh"], 6), round(f["idle_kwh"], 6), f["gap"], f["kwh_per_good_part"]) == (3.0, 3.0, 0, 0.25)


def test_no_good_parts_means_no_kwh_per_good_part_field() -> None:
    r = rollup([LabeledInterval(REF, EnergyInterval(at(0), at(30), 3.0))], period="hour", pricing=PRICING)[0]
    assert "kwh_per_good_part" not in r.fields()


def test_accumulator_emits_an_hour_once_the_asset_moves_past_it() -> None:
    acc = RollupAccumulator(period="hour", pricing=PRICING)
    assert acc.update(LabeledInterval(REF, EnergyInterval(at(0), at(30), 1.0))) == []
    assert acc.update(LabeledInterval(REF, EnergyInterval(at(30), at(60), 1.0))) == []
    closed = acc.update(LabeledInterval(REF, EnergyInterval(at(60), at(90), 1.0)))
    assert [(r.start, round(r.energy_kwh, 6)) for r in closed] == [(at(0), 2.0)]
    rest = acc.flush()
    assert [(r.start, round(r.energy_kwh, 6)) for r in rest] == [(at(60), 1.0)]
    assert acc.flush() == []
