"""The energy service and report against real servers: Mosquitto → AnalyticRunner(EnergyAnalytic) → InfluxDB."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from analytics.energy.cli import build_energy_group
from analytics.energy.influx_source import influx_source
from analytics.energy.service import build_energy
from analytics.runtime import AnalyticRunner
from app.localservers import LocalInfluxDB
from ingest.schema import telemetry_lines
from tests.helpers import eventually, example_plant, running
from twin import topics
from twin.events import AlertEvent, EventState
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.plant import Plant
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint, Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 16, tzinfo=UTC)  # 00:00 Asia/Shanghai


def telemetry(plant: Plant, *, minutes: int, running_min: int, start_kwh: float = 5000.0,
              first: int = 0) -> tuple[list[Reading], list[Reading], list[Reading]]:
    """One reading a minute: meter counter, machine state, and one gauged part a minute while running.

    8 kW while running, 3 kW idle (above the example's 1.5 kW standby threshold). Every
    seventh part's bore is out of spec (usl 20.02).
    """
    meter, _ = plant.asset("meter-cnc-01")
    cnc, _ = plant.asset("cnc-01")
    gauge, _ = plant.asset("gauge-cnc-01")
    meter_r, state_r, gauge_r = [], [], []
    kwh = start_kwh
    for m in range(first, minutes + 1):
        ts = T0 + timedelta(minutes=m)
        if m > first:
            kwh += (8.0 if m - 1 < running_min else 3.0) / 60
        state_r.append(Reading(cnc, "state", ts, "running" if m < running_min else "idle"))
        meter_r.append(Reading(meter, "energy_kwh", ts, round(kwh, 6)))
        if m < running_min:
            pts = ts + timedelta(seconds=30)
            gauge_r += [Reading(gauge, "bore_diameter_mm", pts, 20.03 if m % 7 == 0 else 20.0),
                        Reading(gauge, "length_mm", pts, 50.0)]
    return meter_r, state_r, gauge_r


async def test_live_rollups_equal_the_counter_delta_and_idle_waste_raises_an_alert(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB) -> None:
    plant = example_plant()
    analytic = build_energy(plant)
    assert analytic is not None
    runner = AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint, influx=influx, instance="t")
    meter_r, state_r, _ = telemetry(plant, minutes=150, running_min=120)
    cnc, _ = plant.asset("cnc-01")
    alerts: list[AlertEvent] = []
    async with MqttClient(endpoint=mqtt_endpoint, client_id="energy-test") as client, running(runner.run()):
        await client.subscribe(topics.asset_topic(cnc, "alerts"))
        await asyncio.wait_for(runner.ready.wait(), 10)
        for i in range(0, len(meter_r), 10):  # the machine's state first, as its edge agent is faster
            await client.publish(topics.asset_topic(cnc, "telemetry"), encode(cnc, state_r[i:i + 10], agent="t"),
                                 qos=1, timeout_s=10)
            await client.publish(topics.asset_topic(meter_r[0].asset, "telemetry"),
                                 encode(meter_r[0].asset, meter_r[i:i + 10], agent="t"), qos=1, timeout_s=10)

        async def waste_alert() -> bool:
            while not client.messages.empty():
                alerts.append(AlertEvent.decode(client.messages.get_nowait().payload))
            return any(a.key == "energy:idle_waste" for a in alerts)
        await eventually(waste_alert, timeout_s=15)

        delta = float(meter_r[-1].value) - float(meter_r[0].value)  # type: ignore[arg-type]

        async def all_energy_written() -> bool:
            series = await influx.query('SELECT sum("energy_kwh") FROM "energy" WHERE "asset" = $a GROUP BY "period"',
                                        params={"a": "cnc-01"})
            sums = {s.tags["period"]: s.values[0][1] for s in series}
            return sums.keys() == {"hour", "day"} and all(math.isclose(v, delta, rel_tol=1e-9) for v in sums.values())
        await eventually(all_energy_written, timeout_s=15)

    series = await influx.query('SELECT * FROM "energy" WHERE "period" = $p', params={"p": "hour"})
    hours = [r for s in series for r in s.records()]
    assert [r["time"] for r in hours] == [int((T0 + timedelta(hours=h)).timestamp()) * 10**9 for h in range(3)]
    assert math.isclose(hours[0]["energy_kwh"], 8.0, rel_tol=1e-9)
    assert math.isclose(hours[2]["idle_kwh"], 30 * 3.0 / 60, rel_tol=1e-9)  # the open hour, as far as it went
    assert all(r["asset"] == "cnc-01" and r["line"] == "line-1" and r["gap"] == 0 for r in hours)
    keys = await influx.query('SHOW FIELD KEYS FROM "energy"')
    assert {r["fieldType"] for s in keys for r in s.records()} == {"float"}
    fired = next(a for a in alerts if a.key == "energy:idle_waste")
    assert fired.state is EventState.FIRING and fired.source == "energy" and fired.asset == cnc
    assert fired.ts == T0 + timedelta(minutes=130)  # 10 min (waste_min_duration_s) after going idle at 2:00


def test_report_over_influxdb_equals_the_raw_meter_data(influxdb_server: LocalInfluxDB) -> None:
    plant = example_plant()
    # Readings from 10 min before to 10 min after the report window [00:00, 02:00) local.
    meter_r, state_r, gauge_r = telemetry(plant, minutes=130, running_min=90, first=-10)
    database = "energy_report_test"

    async def write() -> None:
        async with InfluxDB(url=influxdb_server.url, database=database) as db:
            await db.create_database()
            await db.write(telemetry_lines(meter_r + state_r + gauge_r))
    asyncio.run(write())

    settings = Settings(influx_url=influxdb_server.url, influx_db=database)
    group = build_energy_group(source_factory=lambda: influx_source(settings, plant),
                               config_factory=lambda: plant.energy)
    result = CliRunner().invoke(group, ["report", "--from", "2026-11-26T00:00", "--to", "2026-11-26T02:00",
                                        "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    at = {r.ts: float(r.value) for r in meter_r}  # type: ignore[arg-type]
    raw_kwh = at[T0 + timedelta(hours=2)] - at[T0]
    assert math.isclose(report["total"]["energy_kwh"], raw_kwh, rel_tol=1e-9)
    assert [r["key"] for r in report["rows"]] == ["cnc-01"]
    # Parts at 00:00:30 … 01:29:30; every seventh (minutes 0, 7, …, 84) out of spec.
    assert report["total"]["good_parts"] == 90 - 13
    assert math.isclose(report["total"]["idle_kwh"], 30 * 3.0 / 60, rel_tol=1e-9)
