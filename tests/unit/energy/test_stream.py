"""The per-asset streaming tracker gives the same rollups as the batch path, plus findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.energy.counters import CounterSettings
from analytics.energy.rollups import AssetRef, Pricing
from analytics.energy.stream import AssetEnergyTracker
from analytics.energy.tariffs import flat_tariff

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
REF = AssetRef(asset="cnc-01", line="L1", area="machining", site="plant-a")


def test_tracker_rolls_up_hours_and_days_and_reports_idle_waste() -> None:
    tracker = AssetEnergyTracker(ref=REF, kind="counter", pricing=Pricing(flat_tariff(0.5), 0.5306),
                                 settings=CounterSettings(counter_max_kwh=999999.9), standby_threshold_kw=2.0,
                                 waste_min_duration_s=600.0)
    records, findings = [], []
    counter_kwh = 100.0
    for m in range(0, 121):  # 2 h, one reading a minute; 5 kWh/h running, 3 kW (0.05 kWh/min) idle 60–80 min
        idle = 60 < m <= 80
        if m:
            counter_kwh += 0.05 if idle else 5.0 / 60.0
        out = tracker.update(T0 + timedelta(minutes=m), counter_kwh, state="idle" if idle else "running",
                             good_parts=1.0 if m and not idle else 0.0)
        records += out.records
        findings += out.findings
    hourly = [r for r in records if r.period == "hour"]
    assert [(r.start, round(r.energy_kwh, 6), r.good_parts) for r in hourly] == [(T0, 5.0, 60.0)]
    rest = tracker.flush()
    second_hour = next(r for r in rest if r.period == "hour")
    assert round(second_hour.energy_kwh, 6) == round(40 * 5.0 / 60.0 + 20 * 0.05, 6)
    assert round(second_hour.idle_kwh, 6) == 1.0
    day = next(r for r in rest if r.period == "day")
    assert round(day.energy_kwh, 6) == round(counter_kwh - 100.0, 6)
    assert [(f.status, f.key) for f in findings] == [("open", "energy:cnc-01:idle_waste"),
                                                    ("closed", "energy:cnc-01:idle_waste")]
    assert round(findings[1].mean_power_kw, 6) == 3.0
