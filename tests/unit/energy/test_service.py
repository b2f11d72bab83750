"""EnergyAnalytic: meter readings through the streaming service give hand-computable rollups and waste alerts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from analytics.energy.service import build_energy
from tests.helpers import example_plant
from twin.events import EventState
from twin.readings import Quality, Reading

T0 = datetime(2026, 11, 25, 16, tzinfo=UTC)  # 00:00 in Asia/Shanghai, the plant's time zone


def fields(line: str) -> dict[str, str]:
    body = line.split(" ")[1]
    return dict(kv.split("=", 1) for kv in body.split(","))


def day(hours: int = 3, *, running_h: int = 2) -> list[list[Reading]]:
    """10 s meter readings: 8 kW while running (first `running_h` hours, one good part per 40 s), then 2 kW idle."""
    plant = example_plant()
    meter, _ = plant.asset("meter-cnc-01")
    cnc, _ = plant.asset("cnc-01")
    gauge, _ = plant.asset("gauge-cnc-01")
    kwh = 1000.0
    batches = []
    for i in range(0, hours * 3600 + 1, 10):
        ts = T0 + timedelta(seconds=i)
        running = i < running_h * 3600
        if i:  # the 10 s since the previous reading, at the power of the state then
            kwh += (8.0 if i - 10 < running_h * 3600 else 2.0) * 10 / 3600
        batch = [Reading(cnc, "state", ts, "running" if running else "idle"),
                 Reading(meter, "energy_kwh", ts, round(kwh, 6))]
        if running and i % 40 == 20:
            bore = 20.03 if i % 400 == 20 else 20.0  # one part in ten is out of spec (usl 20.02)
            batch += [Reading(gauge, "bore_diameter_mm", ts, bore), Reading(gauge, "length_mm", ts, 50.0)]
        batches.append(batch)
    return batches


def run(batches: list[list[Reading]]) -> tuple[list[str], list]:  # type: ignore[type-arg]
    analytic = build_energy(example_plant())
    assert analytic is not None and analytic.meters == ["meter-cnc-01 → cnc-01"]
    lines, events = [], []
    for b in batches:
        out = analytic.process(b)
        lines += out.lines
        events += out.events
    return lines, events


def latest(lines: list[str], period: str) -> dict[str, dict[str, str]]:
    """The last version of each bucket (what InfluxDB keeps: same tags and time overwrite)."""
    out: dict[str, dict[str, str]] = {}
    for ln in lines:
        if f"period={period}" in ln:
            out[ln.rsplit(" ", 1)[1]] = fields(ln)
    return out


def test_hourly_rollups_equal_the_hand_computed_energy_cost_and_parts() -> None:
    lines, _ = run(day())
    assert all("asset=cnc-01" in ln for ln in lines)  # charged to the machine the meter meters
    hours = latest(lines, "hour")
    assert len(hours) == 3
    first, _, third = (hours[k] for k in sorted(hours))
    assert math.isclose(float(first["energy_kwh"]), 8.0, rel_tol=1e-9)
    assert math.isclose(float(third["energy_kwh"]), 2.0, rel_tol=1e-9)
    assert math.isclose(float(third["idle_kwh"]), 2.0, rel_tol=1e-9)
    # 00:00–01:00 local is valley (23:00–07:00, 0.30 CNY/kWh) in the example tariff.
    assert math.isclose(float(first["cost_cny"]), 8.0 * 0.30, rel_tol=1e-9)
    # China national grid factor 2023, 0.5306 kgCO2/kWh (MEE/NBS).
    assert math.isclose(float(first["co2e_kg"]), 8.0 * 0.5306, rel_tol=1e-9)
    # 90 parts an hour, one in ten out of spec.
    assert float(first["good_parts"]) == 81.0
    assert math.isclose(float(first["kwh_per_good_part"]), 8.0 / 81, rel_tol=1e-9)
    [today] = latest(lines, "day").values()
    assert math.isclose(float(today["energy_kwh"]), 18.0, rel_tol=1e-9)


def test_redelivered_readings_do_not_double_count() -> None:
    batches = day(hours=1)
    lines, _ = run(batches[:200] + batches[150:])
    [today] = latest(lines, "day").values()
    assert math.isclose(float(today["energy_kwh"]), 8.0, rel_tol=1e-9)


def test_bad_quality_meter_reading_is_skipped() -> None:
    batches = day(hours=1)
    meter, _ = example_plant().asset("meter-cnc-01")
    batches[100] = [Reading(meter, "energy_kwh", batches[100][1].ts, None, Quality.BAD, "BadCommunicationError")]
    lines, _ = run(batches)
    [today] = latest(lines, "day").values()
    assert math.isclose(float(today["energy_kwh"]), 8.0, rel_tol=1e-9)


def test_idle_machine_drawing_power_fires_one_waste_alert_and_clears_when_it_runs_again() -> None:
    batches = day(hours=3) + [b for b in day(hours=4, running_h=4)[3 * 360 + 1:]]
    _, events = run(batches)
    waste = [e for e in events if e.key == "energy:idle_waste"]
    assert [e.state for e in waste] == [EventState.FIRING, EventState.CLEARED]
    assert waste[0].asset.asset == "cnc-01" and "idle but drawing power" in waste[0].message
    assert waste[0].ts == T0 + timedelta(hours=2, minutes=10)  # waste_min_duration_s 600 after going idle


def test_baseline_deviation_after_eight_complete_hours() -> None:
    lines, _ = run(day(hours=10, running_h=10))
    hours = [latest(lines, "hour")[k] for k in sorted(latest(lines, "hour"))]
    assert "expected_kwh" not in hours[0]
    assert "expected_kwh" in hours[-1] and abs(float(hours[-1]["deviation_pct"])) < 1.0
