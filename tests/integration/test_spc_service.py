"""The SPC service against real servers: gauge telemetry on Mosquitto → AnalyticRunner(SpcAnalytic) → InfluxDB.

Chart points and capability land in InfluxDB as docs/schema.md says; violations and their
clearing arrive as alert events on the alerts topics.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from analytics.runtime import AnalyticRunner
from analytics.spc.service import build_spc
from tests.helpers import EXAMPLE_PLANT, eventually, example_plant, running
from tests.unit.spc.test_service import gauge_readings
from twin import topics
from twin.events import AlertEvent, EventState, Severity
from twin.filelock import InUse
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.readings import encode
from twin.settings import MqttEndpoint

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BEYOND = "spc:bore_diameter_mm:xbar:nelson1"


async def test_a_mean_shift_is_charted_alerted_and_cleared_and_a_redelivery_changes_nothing(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB) -> None:
    plant = example_plant()
    gauge, _ = plant.asset("gauge-cnc-01")
    analytic = build_spc(plant, clear_after=10)
    assert analytic is not None
    runner = AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint, influx=influx, instance="t")
    # A 3σ shift of the bore (σ = 0.003 mm) for parts 300–339, then 200 parts back on target.
    readings = gauge_readings(340, shift_from=300, shift=0.009) + gauge_readings(200, start=340, seed=2)
    alerts: list[AlertEvent] = []
    async with MqttClient(endpoint=mqtt_endpoint, client_id="spc-test") as client, running(runner.run()):
        await client.subscribe(topics.subscription("alerts"))
        await asyncio.wait_for(runner.ready.wait(), 10)
        topic = topics.asset_topic(gauge, "telemetry")
        batches = [readings[i:i + 30] for i in range(0, len(readings), 30)]  # ten parts a message, as an edge batches
        for batch in batches:
            await client.publish(topic, encode(gauge, batch, agent="test"), qos=1, timeout_s=10)

        async def drained(key: str, state: EventState) -> bool:
            while not client.messages.empty():
                alerts.append(AlertEvent.decode(client.messages.get_nowait().payload))
            return any(a.key == key and a.state is state for a in alerts)

        await eventually(lambda: drained(BEYOND, EventState.CLEARED), timeout_s=20)

        async def counts(expected: dict[str, int]) -> bool:
            series = await influx.query('SELECT count("value") FROM "spc" GROUP BY "characteristic"')
            return {s.tags["characteristic"]: s.values[0][1] for s in series} == expected

        # 540 parts: 108 subgroups of 5 and 540 individuals, less the 25-point Phase I baselines.
        await eventually(lambda: counts({"bore_diameter_mm": 108 - 25, "length_mm": 540 - 25}), timeout_s=20)

        # An at-least-once redelivery of an old batch, then one new part as a marker that it was processed.
        await client.publish(topic, encode(gauge, batches[31], agent="test"), qos=1, timeout_s=10)
        await client.publish(topic, encode(gauge, gauge_readings(1, start=540), agent="test"), qos=1, timeout_s=10)
        await eventually(lambda: counts({"bore_diameter_mm": 108 - 25, "length_mm": 541 - 25}), timeout_s=20)
        assert analytic.duplicates == 20  # ten parts × two charted characteristics

    rows = [r for s in await influx.query(
        'SELECT * FROM "spc" WHERE "characteristic" = $c AND "violation" =~ /nelson1/',
        params={"c": "bore_diameter_mm"}) for r in s.records()]
    assert rows and rows[0]["chart"] == "xbar-r" and rows[0]["asset"] == "gauge-cnc-01"
    assert rows[0]["value"] > rows[0]["ucl"] > rows[0]["cl"] > rows[0]["lcl"]
    keys = await influx.query('SHOW FIELD KEYS FROM "spc"')
    types = {r["fieldKey"]: r["fieldType"] for s in keys for r in s.records()}
    assert {k for k, t in types.items() if t == "string"} == {"violation", "serial"}
    assert {"value", "cl", "ucl", "lcl", "range_value", "range_cl", "range_ucl", "range_lcl", "n",
            "violations"} <= {k for k, t in types.items() if t == "float"}
    caps = await influx.query('SELECT "cpk", "cpk_low", "cpk_high", "n" FROM "capability" WHERE "characteristic" = $c',
                              params={"c": "length_mm"})
    cap_rows = [r for s in caps for r in s.records()]
    assert len(cap_rows) == (541 - 25) // 25
    assert all(r["cpk_low"] < r["cpk"] < r["cpk_high"] for r in cap_rows)
    fired = next(a for a in alerts if a.key == BEYOND)
    assert fired.state is EventState.FIRING and fired.severity is Severity.CRITICAL
    assert fired.source == "spc" and fired.kind == "nelson1" and fired.asset == gauge
    assert "bore_diameter_mm" in fired.message and fired.details["machine"] == "cnc-01"
    cleared = [a for a in alerts if a.key == BEYOND and a.state is EventState.CLEARED]
    assert len(cleared) == 1 and cleared[0].ts > max(a.ts for a in alerts if a.key == BEYOND and a is not cleared[0])


async def test_spc_run_charts_on_its_own_and_stops_cleanly_on_sigterm(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    env = {**os.environ, "TWIN_MQTT_URL": f"mqtt://{mqtt_endpoint.host}:{mqtt_endpoint.port}",
           "TWIN_INFLUX_URL": influx.url, "TWIN_INFLUX_DB": influx.database, "TWIN_STATE_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from analytics.spc.cli import spc; spc()", "run", "--plant", str(EXAMPLE_PLANT),
        "--instance", "cli-test", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        gauge, _ = example_plant().asset("gauge-cnc-01")
        readings = gauge_readings(60)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="spc-cli-test") as client:
            assert proc.stdout is not None
            # The banner is printed once the database exists; the persistent session then
            # keeps what we publish even if the subscription lands a moment later.
            banner = await asyncio.wait_for(proc.stdout.readline(), 15)
            assert b"gauge-cnc-01/bore_diameter_mm" in banner
            topic = topics.asset_topic(gauge, "telemetry")

            async def charted() -> bool:
                await client.publish(topic, encode(gauge, readings, agent="test"), qos=1, timeout_s=10)
                series = await influx.query('SELECT count("value") FROM "spc" WHERE "characteristic" = $c',
                                            params={"c": "length_mm"})
                return bool(series) and series[0].values[0][1] == 60 - 25
            # Republishing until charted is safe: the service ignores what it has already seen.
            await eventually(charted, timeout_s=15, interval_s=0.5)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert b"duplicates ignored" in err


async def test_a_second_spc_process_with_the_same_instance_is_refused(mqtt_endpoint: MqttEndpoint, influx: InfluxDB,
                                                                     tmp_path: Path) -> None:
    plant = example_plant()
    first = AnalyticRunner(build_spc(plant), mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant,  # type: ignore[arg-type]
                           state_path=tmp_path / "analytics-state.sqlite")
    second = AnalyticRunner(build_spc(plant), mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant,  # type: ignore[arg-type]
                            state_path=tmp_path / "analytics-state.sqlite")
    task = asyncio.create_task(first.run())
    try:
        await asyncio.wait_for(first.ready.wait(), 20)
        with pytest.raises(InUse, match="checkpoint of spc instance '1' is in use by pid"):
            await second.run()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
