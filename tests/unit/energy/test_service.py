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


def plant_with(energy: dict) -> object:  # type: ignore[type-arg]
    import yaml

    from tests.helpers import EXAMPLE_PLANT
    from twin.plant import parse_plant

    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    assets = raw["areas"]["machining"]["lines"]["line-1"]["assets"]
    assets["env-hall"] = {"type": "env_sensor", "signals": {
        "temp_c": {"unit": "degC", "mqtt": {"topic": "devices/env/hall", "path": "$.temp_c"}},
        "humidity_pct": {"unit": "%", "mqtt": {"topic": "devices/env/hall", "path": "$.humidity_pct"}}}}
    assets["compressor-01"] = {"type": "compressor", "signals": {
        "state": {"mqtt": {"topic": "devices/air/c1", "path": "$.state"}}}}
    assets["meter-air"] = {"type": "energy_meter", "meters": "compressor-01", "signals": {
        "power_kw": {"unit": "kW", "mqtt": {"topic": "devices/meters/air", "path": "$.power_kw"}}}}
    raw["energy"].update(energy)
    return parse_plant(raw)


def test_environment_limit_fires_once_and_clears_only_past_the_deadband() -> None:
    from analytics.energy.service import EnergyAnalytic

    plant = plant_with({"environment": [{"asset": "env-hall", "signal": "temp_c", "high": 30, "low": 10,
                                         "deadband": 1.0}]})
    analytic = EnergyAnalytic(plant)  # type: ignore[arg-type]
    env, _ = plant.asset("env-hall")  # type: ignore[attr-defined]
    temps = [29.0, 30.5, 31.0, 29.5, 30.2, 29.0, 28.0, 30.4, 9.5, 11.5]
    events = []
    for i, t in enumerate(temps):
        r = Reading(env, "temp_c", T0 + timedelta(minutes=i), t)
        assert analytic.wants(r)
        events += analytic.process([r]).events
    # Fires at 30.5; 29.5 and 30.2 are inside the deadband (not ≤ 29): no flapping; clears at 29.0.
    # Fires again at 30.4, then high clears and low fires on 9.5, low clears at 11.5 (≥ 10 + 1).
    assert [(e.key, e.state, e.ts) for e in events] == [
        ("energy:env:temp_c:high", EventState.FIRING, T0 + timedelta(minutes=1)),
        ("energy:env:temp_c:high", EventState.CLEARED, T0 + timedelta(minutes=5)),
        ("energy:env:temp_c:high", EventState.FIRING, T0 + timedelta(minutes=7)),
        ("energy:env:temp_c:high", EventState.CLEARED, T0 + timedelta(minutes=8)),
        ("energy:env:temp_c:low", EventState.FIRING, T0 + timedelta(minutes=8)),
        ("energy:env:temp_c:low", EventState.CLEARED, T0 + timedelta(minutes=9)),
    ]
    assert all(e.asset == env and e.source == "energy" for e in events)
    assert not analytic.wants(Reading(env, "humidity_pct", T0, 50.0))


def test_compressor_loaded_while_nothing_runs_is_an_air_leak_until_production_restarts() -> None:
    from analytics.energy.service import EnergyAnalytic

    plant = plant_with({"meters": [
        {"asset": "meter-cnc-01", "signal": "energy_kwh", "counter_max_kwh": 1000000},
        {"asset": "meter-air", "signal": "power_kw", "kind": "power", "air_leak_loaded_kw": 5.0,
         "air_leak_min_duration_s": 900}]})
    analytic = EnergyAnalytic(plant)  # type: ignore[arg-type]
    air, _ = plant.asset("meter-air")  # type: ignore[attr-defined]
    cnc, _ = plant.asset("cnc-01")  # type: ignore[attr-defined]
    events = []
    for m in range(0, 61):
        ts = T0 + timedelta(minutes=m)
        state = "idle" if 10 <= m < 40 else "running"  # the night shift stopped for 30 min
        events += analytic.process([Reading(cnc, "state", ts, state), Reading(air, "power_kw", ts, 12.0)]).events
    leak = [e for e in events if e.key == "energy:air_leak"]
    assert [(e.state, e.ts) for e in leak] == [(EventState.FIRING, T0 + timedelta(minutes=25)),
                                               (EventState.CLEARED, T0 + timedelta(minutes=40))]
    assert leak[0].asset.asset == "compressor-01" and leak[0].details["meter"] == "meter-air"


def test_every_field_is_a_finite_float_and_unknown_fields_are_left_out() -> None:
    lines, _ = run(day(hours=2, running_h=1))
    assert lines
    for ln in lines:
        measurement_tags, _, ts = ln.split(" ")
        assert measurement_tags.startswith("energy,") and ts.isdigit()
        for key, value in fields(ln).items():
            assert not value.endswith("i") and not value.startswith('"'), (key, value)
            assert math.isfinite(float(value))
    idle_hour = latest(lines, "hour")[max(latest(lines, "hour"))]
    assert "kwh_per_good_part" not in idle_hour and float(idle_hour["good_parts"]) == 0.0


def test_baseline_deviation_fires_on_a_wasteful_hour_and_clears_on_the_next_normal_one() -> None:
    from analytics.energy.service import EnergyAnalytic

    plant = plant_with({"meters": [{"asset": "meter-cnc-01", "signal": "energy_kwh", "counter_max_kwh": 1000000,
                                    "baseline": {"intercept_kwh_per_h": 8.0, "kwh_per_good_part": 0.0,
                                                 "deviation_limit_pct": 10}}]})
    analytic = EnergyAnalytic(plant)  # type: ignore[arg-type]
    meter, _ = plant.asset("meter-cnc-01")  # type: ignore[attr-defined]
    cnc, _ = plant.asset("cnc-01")  # type: ignore[attr-defined]
    kwh, events, lines = 0.0, [], []
    for i in range(0, 3 * 360 + 2):  # 10 s readings; 8 kW in hours 0 and 2, 10 kW (+25 %) in hour 1
        ts = T0 + timedelta(seconds=10 * i)
        if i:
            kwh += (10.0 if 360 < i <= 720 else 8.0) * 10 / 3600
        out = analytic.process([Reading(cnc, "state", ts, "running"), Reading(meter, "energy_kwh", ts, kwh)])
        events += out.events
        lines += out.lines
    dev = [e for e in events if e.key == "energy:baseline_deviation"]
    assert [(e.state, e.details["hour"]) for e in dev] == [
        (EventState.FIRING, (T0 + timedelta(hours=1)).isoformat()),
        (EventState.CLEARED, (T0 + timedelta(hours=2)).isoformat())]
    assert math.isclose(dev[0].details["deviation_pct"], 25.0) and dev[0].asset.asset == "cnc-01"
    hours = latest(lines, "hour")
    second = hours[sorted(hours)[1]]
    assert math.isclose(float(second["expected_kwh"]), 8.0) and math.isclose(float(second["deviation_pct"]), 25.0)


def test_energy_section_naming_an_unknown_meter_or_signal_is_refused() -> None:
    import pytest

    from twin.errors import ConfigError

    with pytest.raises((ValueError, ConfigError), match=r"energy.meters\[0\].signal"):
        from analytics.energy.service import EnergyAnalytic
        EnergyAnalytic(plant_with({"meters": [{"asset": "meter-cnc-01", "signal": "nope"}]}))  # type: ignore[arg-type]
