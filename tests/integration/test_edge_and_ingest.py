"""Edge agent and ingest against real Mosquitto, InfluxDB and an asyncua server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asyncua import ua

from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest
from simulators.plant_sim import PlantSimulator
from tests.helpers import eventually, example_plant, running
from twin import topics
from twin.influx import InfluxDB, to_ns
from twin.mqtt import Message, MqttClient
from twin.readings import Quality, Reading, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

pytestmark = pytest.mark.integration


async def _next(client: MqttClient, timeout_s: float = 10) -> Message:
    return await asyncio.wait_for(client.messages.get(), timeout_s)


async def test_malformed_device_payloads_go_to_dead_letter_and_pipeline_keeps_running(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path
) -> None:
    plant = example_plant()
    edge = EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint,
                     options=EdgeOptions(agent_id="e1", queue_path=tmp_path / "q.sqlite", linger_s=0.02))
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx)
    topic = "devices/meters/cnc-01"
    bad_payloads = {
        b"not json at all": "not JSON",
        b'{"ts": "2026-11-26T08:00:00Z", "power_kw": 1.0}': "energy_kwh: value at",  # a bound value is missing
        b'{"ts": "yesterday", "power_kw": 1, "energy_kwh": 2, "voltage_v": 3, "power_factor": 0.9}': "timestamp at",
        b'{"ts": "2026-11-26T08:00:00Z", "power_kw": {"x": 1}, "energy_kwh": 2, "voltage_v": 3, '
        b'"power_factor": 0.9}': "must be a number",
    }
    async with MqttClient(endpoint=mqtt_endpoint, client_id="watcher") as watcher, \
            MqttClient(endpoint=mqtt_endpoint, client_id="device") as device, \
            PlantSimulator(plant, mqtt=device, tick_s=0.1):
        await watcher.subscribe(topics.deadletter("edge.e1"))
        await watcher.wait_connected(10)
        async with running(edge.run(), ingest.run()):
            await edge.wait_ready(20)
            await ingest.ready.wait()
            for payload in bad_payloads:
                await device.publish(topic, payload, qos=1)
            letters = [json.loads((await _next(watcher)).payload) for _ in bad_payloads]
            # After the garbage, a good reading still flows all the way to the database.
            ts = datetime(2026, 11, 26, 8, 0, 1, tzinfo=UTC)
            good = {"ts": ts.isoformat(), "power_kw": 12.5, "energy_kwh": 100.25, "voltage_v": 399.0,
                    "power_factor": 0.91}
            await device.publish(topic, json.dumps(good).encode(), qos=1)

            async def stored() -> bool:
                rows = await influx.query(
                    "SELECT value FROM telemetry WHERE asset = $a AND signal = $s AND time = $t",
                    params={"a": "meter-cnc-01", "s": "energy_kwh", "t": ts.isoformat()})
                return bool(rows) and rows[0].values[0][1] == 100.25

            await eventually(stored, timeout_s=20)
    assert [letter["topic"] for letter in letters] == [topic] * len(bad_payloads)
    for letter, (payload, reason) in zip(letters, bad_payloads.items(), strict=True):
        assert reason in letter["reason"]
        assert letter["payload"] == payload.decode("utf-8", errors="replace")
    assert edge.stats.counters["deadletters"] == len(bad_payloads)


async def test_bad_opcua_status_is_stored_with_its_quality(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path
) -> None:
    plant = example_plant()
    spindle_temp = next(s for s in plant.signals() if s.name == "spindle_temp")
    edge = EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint,
                     options=EdgeOptions(queue_path=tmp_path / "q.sqlite", linger_s=0.02))
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx)
    ts = datetime.now(UTC).replace(microsecond=250000) + timedelta(seconds=5)
    async with MqttClient(endpoint=mqtt_endpoint, client_id="device") as device, \
            PlantSimulator(plant, mqtt=device, tick_s=0.1) as sim:
        async with running(edge.run(), ingest.run()):
            await edge.wait_ready(20)
            await ingest.ready.wait()
            await sim.server_for(spindle_temp).write(
                spindle_temp, 999.0, ts, status=ua.StatusCode(ua.StatusCodes.BadSensorFailure))

            async def stored() -> bool:
                rows = await influx.query(
                    "SELECT value, quality, status FROM telemetry WHERE signal = $s AND time = $t",
                    params={"s": "spindle_temp", "t": ts.isoformat()})
                return bool(rows)

            await eventually(stored, timeout_s=20)
    row = (await influx.query("SELECT value, quality, status FROM telemetry WHERE signal = $s AND time = $t",
                              params={"s": "spindle_temp", "t": ts.isoformat()}))[0].records()[0]
    assert row["quality"] == "bad"
    assert row["status"] == "BadSensorFailure"
    # A Bad DataValue carries no usable value: servers send null (OPC UA Part 4 §7.7.1),
    # so the point holds the quality and status, and no number that a chart could misread.
    assert row["value"] is None
    assert row["time"] == to_ns(ts)


async def test_ingest_dead_letters_bad_messages_and_writes_the_rest(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB
) -> None:
    asset = AssetPath("s1", "a1", "l1", "m1")
    topic = topics.asset_topic(asset, "telemetry")
    ts = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx)
    async with MqttClient(endpoint=mqtt_endpoint, client_id="watcher") as watcher, \
            MqttClient(endpoint=mqtt_endpoint, client_id="edge") as edge:
        await watcher.subscribe(topics.deadletter("ingest"))
        await watcher.wait_connected(10)
        async with running(ingest.run()):
            await ingest.ready.wait()
            await edge.publish(topic, b"{broken", qos=1)
            # A value of the wrong type for an existing field: InfluxDB refuses it (HTTP 400).
            await edge.publish(topic, encode(asset, [Reading(asset, "x", ts, 1.5)], agent="e"), qos=1)
            letter = json.loads((await _next(watcher)).payload)
            assert "not JSON" in letter["reason"]
            await eventually(lambda: _count(influx, "x", 1), timeout_s=15)
            # Field types are fixed per shard: make `status` an integer in this time range.
            await influx.write([f"telemetry,site=s1,area=a1,line=l1,asset=m1,signal=z status=1i {to_ns(ts)}"])
            bad = encode(asset, [Reading(asset, "y", ts, 2.0, Quality.BAD, "BadX")], agent="e")
            await edge.publish(topic, bad, qos=1)
            await edge.publish(topic, encode(asset, [Reading(asset, "x", ts + timedelta(seconds=1), 2.5)],
                                             agent="e"), qos=1)
            letter = json.loads((await _next(watcher)).payload)
            assert "InfluxDB refused the points" in letter["reason"] and "field type conflict" in letter["reason"]
            await eventually(lambda: _count(influx, "x", 2), timeout_s=15)
    assert ingest.stats.counters["deadletters"] == 2


async def _count(influx: InfluxDB, signal: str, n: int) -> bool:
    rows = await influx.query("SELECT count(value) FROM telemetry WHERE signal = $s", params={"s": signal})
    return bool(rows) and rows[0].values[0][1] == n


HOSTILE = ['a b', 'a,b', 'a=b', 'quote"d', "back\\slash", "new\nline", "中文 测试", "tab\tx", "'; DROP"]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_strings_survive_line_protocol_and_queries(influx: InfluxDB, text: str) -> None:
    from ingest.schema import telemetry_lines

    asset = AssetPath("s", "a", "l", "m")
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    await influx.write(telemetry_lines([Reading(asset, "label", ts, text, Quality.BAD, text)]))
    rows = await influx.query("SELECT text, status FROM telemetry WHERE status = $v", params={"v": text})
    assert rows and rows[0].records()[0]["text"] == text
    assert rows[0].records()[0]["status"] == text


async def test_pipeline_health_is_written_for_edge_and_ingest(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path
) -> None:
    from ingest import IngestOptions

    plant = example_plant()
    edge = EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint,
                     options=EdgeOptions(agent_id="e7", queue_path=tmp_path / "q.sqlite", status_interval_s=0.2))
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, options=IngestOptions(metrics_interval_s=0.3))
    async with MqttClient(endpoint=mqtt_endpoint, client_id="device") as device, \
            PlantSimulator(plant, mqtt=device, tick_s=0.1) as sim:
        async with running(edge.run(), ingest.run(), sim.run()):
            await edge.wait_ready(20)

            async def both() -> bool:
                rows = await influx.query('SELECT last("queue_depth") FROM "pipeline" WHERE "instance" = $i',
                                          params={"i": "e7"})
                mine = await influx.query('SELECT last("points_total") FROM "pipeline" WHERE "instance" = $i',
                                          params={"i": "ingest-1"})
                return bool(rows) and bool(mine) and mine[0].values[0][1] > 0

            await eventually(both, timeout_s=20)
    # After a clean stop the edge's last status says offline.
    async def offline() -> bool:
        rows = await influx.query('SELECT last("state") FROM "pipeline" WHERE "instance" = $i', params={"i": "e7"})
        return bool(rows) and rows[0].values[0][1] == "offline"

    async with running(Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx).run()):
        await eventually(offline, timeout_s=20)
