"""The SPC service against real servers: gauge telemetry on Mosquitto → AnalyticRunner(SpcAnalytic) → InfluxDB, alerts."""

from __future__ import annotations

import asyncio

import pytest

from analytics.runtime import AnalyticRunner
from analytics.spc.service import build_spc
from tests.helpers import eventually, example_plant, running
from tests.unit.spc.test_service import gauge_readings
from twin import topics
from twin.events import AlertEvent, EventState
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.readings import encode
from twin.settings import MqttEndpoint

pytestmark = pytest.mark.integration


async def test_chart_points_capability_and_a_violation_alert_from_live_measurements(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB) -> None:
    plant = example_plant()
    gauge, _ = plant.asset("gauge-cnc-01")
    analytic = build_spc(plant)
    assert analytic is not None
    runner = AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint, influx=influx, instance="t")
    readings = gauge_readings(340, shift_from=300, shift=0.009)
    alerts: list[AlertEvent] = []
    async with MqttClient(endpoint=mqtt_endpoint, client_id="spc-test") as client, running(runner.run()):
        await client.subscribe(topics.asset_topic(gauge, "alerts"))
        await asyncio.wait_for(runner.ready.wait(), 10)
        topic = topics.asset_topic(gauge, "telemetry")
        for i in range(0, len(readings), 30):  # ten parts per message, as an edge agent batches them
            await client.publish(topic, encode(gauge, readings[i:i + 30], agent="test"), qos=1, timeout_s=10)

        async def beyond_limits_seen() -> bool:
            while not client.messages.empty():
                alerts.append(AlertEvent.decode(client.messages.get_nowait().payload))
            return any(a.key == "spc:bore_diameter_mm:xbar:nelson1" for a in alerts)

        await eventually(beyond_limits_seen, timeout_s=20)

        async def all_points() -> bool:
            series = await influx.query('SELECT count("value") FROM "spc" GROUP BY "characteristic"')
            counts = {s.tags["characteristic"]: s.values[0][1] for s in series}
            return counts == {"bore_diameter_mm": 68 - 25, "length_mm": 340 - 25}
        await eventually(all_points, timeout_s=20)

    series = await influx.query('SELECT * FROM "spc" WHERE "characteristic" = $c AND "violation" =~ /nelson1/',
                                params={"c": "bore_diameter_mm"})
    rows = [r for s in series for r in s.records()]
    assert rows and rows[0]["chart"] == "xbar-r" and rows[0]["asset"] == "gauge-cnc-01"
    assert rows[0]["value"] > rows[0]["ucl"] > rows[0]["cl"] > rows[0]["lcl"]
    keys = await influx.query('SHOW FIELD KEYS FROM "spc"')
    types = {r["fieldKey"]: r["fieldType"] for s in keys for r in s.records()}
    assert {k for k, t in types.items() if t == "string"} == {"violation", "serial"}
    assert {"value", "cl", "ucl", "lcl", "range_value", "range_cl", "range_ucl", "range_lcl", "n"} <= set(types)
    caps = await influx.query('SELECT "cpk", "cpk_low", "cpk_high", "n" FROM "capability" WHERE "characteristic" = $c',
                              params={"c": "length_mm"})
    cap_rows = [r for s in caps for r in s.records()]
    assert len(cap_rows) == (340 - 25) // 25
    assert all(r["cpk_low"] < r["cpk"] < r["cpk_high"] for r in cap_rows)
    fired = next(a for a in alerts if a.key == "spc:bore_diameter_mm:xbar:nelson1")
    assert fired.state is EventState.FIRING and fired.source == "spc" and fired.asset == gauge
