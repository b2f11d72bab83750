"""The dead-letter user story on real Mosquitto and InfluxDB, through the `twin deadletters` commands.

A reading of a signal the plant file lacks is kept by ingest as a dead letter instead of
becoming a new InfluxDB series; once the signal is added to the plant file,
`twin deadletters replay` publishes it again and ingest stores it, exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.localservers import LocalMosquitto
from ingest import Ingest
from ingest.service import IngestOptions
from tests.helpers import eventually, running
from twin import topics
from twin.deadletter import DeadLetterStore, store_path
from twin.influx import InfluxDB, to_ns
from twin.mqtt import Message, MqttClient
from twin.plant import Plant, parse_plant
from twin.readings import Quality, Reading, decode, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

TWIN = Path(sys.executable).with_name("twin")
CNC = AssetPath("f1", "machining", "line-1", "cnc-01")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MARKER = "tests/marker"


def cnc_plant(*signals: str) -> Plant:
    """A one-asset plant whose CNC has these signals."""
    return parse_plant({
        "version": 1, "site": "f1",
        "areas": {"machining": {"lines": {"line-1": {"assets": {
            "cnc-01": {"type": "cnc", "signals": {
                name: {"unit": "x", "mqtt": {"topic": "devices/cnc-01", "path": f"$.{name}"}} for name in signals}},
        }}}}},
    })


async def twin(*args: str, state_dir: Path, mqtt_url: str | None = None) -> tuple[int, str, str]:
    """Run the `twin` command with this state folder and broker; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    env["TWIN_STATE_DIR"] = str(state_dir)
    if mqtt_url is not None:
        env["TWIN_MQTT_URL"] = mqtt_url
    env["COLUMNS"] = "200"  # rich wraps at 80 columns without a terminal
    proc = await asyncio.create_subprocess_exec(str(TWIN), *args, env=env, cwd=state_dir,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def published_before_marker(watcher: MqttClient, sender: MqttClient) -> list[Message]:
    """What the watcher received until now: publish a marker and collect everything that arrives before it.

    The broker delivers to one subscriber in the order it received the messages, and a
    finished `twin deadletters replay` had its PUBACKs before the marker is sent, so
    anything it published is in this list.
    """
    await sender.publish(MARKER, b"marker", qos=1, timeout_s=10)
    seen = []
    async with asyncio.timeout(10):
        while (message := await watcher.messages.get()).topic != MARKER:
            seen.append(message)
    return seen


async def telemetry_rows(influx: InfluxDB, signal: str) -> list[tuple[int, float, str, str | None]]:
    """(time ns, value, quality, status) of one signal of the CNC, in time order."""
    series = await influx.query('SELECT "value", "quality", "status" FROM "telemetry" '
                                'WHERE "asset" = $a AND "signal" = $s', params={"a": CNC.asset, "s": signal})
    return [(v[0], v[1], v[2], v[3]) for s in series for v in s.values]


async def test_a_reading_of_a_signal_added_later_is_replayed_into_influxdb_exactly_once(
        mosquitto: LocalMosquitto, mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    state = tmp_path / "state"
    topic = topics.asset_topic(CNC, "telemetry")
    known = [Reading(CNC, "spindle_load", T0, 42.0)]
    late = [Reading(CNC, "spindle_temp", T0, 31.25),
            Reading(CNC, "spindle_temp", T0 + timedelta(seconds=1), 31.5, Quality.UNCERTAIN, "UncertainX")]
    options = IngestOptions(worker_id="ingest-replay", linger_s=0.02)
    with DeadLetterStore(store_path(state)) as store:
        async with MqttClient(endpoint=mqtt_endpoint, client_id="edge") as edge, \
                MqttClient(endpoint=mqtt_endpoint, client_id="watcher") as watcher:
            await watcher.subscribe(topic)
            await watcher.subscribe(MARKER)

            # 1. The plant file lacks spindle_temp: its readings become one dead letter, nothing in InfluxDB.
            old = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, plant=cnc_plant("spindle_load"),
                         deadletters=store, options=options)
            async with running(old.run()):
                await asyncio.wait_for(old.ready.wait(), 10)
                await edge.publish(topic, encode(CNC, known + late, agent="edge-1"), qos=1, timeout_s=10)

                async def handled() -> bool:
                    return bool(await telemetry_rows(influx, "spindle_load")) and store.count(service="ingest") == 1

                await eventually(handled, timeout_s=15)
            assert await telemetry_rows(influx, "spindle_load") == [(to_ns(T0), 42.0, "good", None)]
            assert await telemetry_rows(influx, "spindle_temp") == []
            tags = await influx.query('SHOW TAG VALUES FROM "telemetry" WITH KEY = "signal"')
            assert {v[1] for s in tags for v in s.values} == {"spindle_load"}
            [letter] = store.entries(include_replayed=True)
            assert (letter.service, letter.topic, letter.replayed) == ("ingest", topic, None)
            assert "spindle_temp" in letter.reason and "spindle_load" not in letter.reason
            assert decode(letter.payload, expected_asset=CNC) == late  # only the refused readings, replayable

            code, out, err = await twin("deadletters", "list", "--json", state_dir=state)
            assert (code, err) == (0, "")
            assert [json.loads(line) for line in out.splitlines()] == [{
                "id": letter.id, "service": "ingest", "topic": topic, "reason": letter.reason, "repeats": 0,
                "received": letter.received.isoformat(), "replayed": None, "payload": letter.payload.decode()}]
            assert len(await published_before_marker(watcher, edge)) == 1  # the edge's own message

            # 2. The signal is added to the plant file; ingest runs with it.
            new = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, plant=cnc_plant("spindle_load", "spindle_temp"),
                         deadletters=store, options=options)
            async with running(new.run()):
                await asyncio.wait_for(new.ready.wait(), 10)

                code, out, err = await twin("deadletters", "replay", "--dry-run", state_dir=state,
                                            mqtt_url=mosquitto.url)
                assert code == 0, err
                assert "would publish 1 messages (1 dead letters)" in out
                assert await published_before_marker(watcher, edge) == []
                assert store.count() == 1

                code, out, err = await twin("deadletters", "replay", "--service", "ingest", state_dir=state,
                                            mqtt_url=mosquitto.url)
                assert code == 0, err
                assert "replayed 1 messages (1 dead letters)" in out
                [again] = await published_before_marker(watcher, edge)
                assert (again.topic, again.payload) == (topic, letter.payload)

                async def replayed_stored() -> bool:
                    return bool(await telemetry_rows(influx, "spindle_temp"))

                await eventually(replayed_stored, timeout_s=15)
                # What ingest did with the replayed message is done once its points are in: no new dead letter.
                assert store.count(include_replayed=True) == 1

                code, out, err = await twin("deadletters", "replay", state_dir=state, mqtt_url=mosquitto.url)
                assert code == 0, err
                assert "nothing to replay" in out
                assert await published_before_marker(watcher, edge) == []

            assert await telemetry_rows(influx, "spindle_temp") == [
                (to_ns(T0), 31.25, "good", None), (to_ns(T0 + timedelta(seconds=1)), 31.5, "uncertain", "UncertainX")]
            assert await telemetry_rows(influx, "spindle_load") == [(to_ns(T0), 42.0, "good", None)]

        assert store.count() == 0
        [done] = store.entries(include_replayed=True)
        assert done.id == letter.id and done.replayed is not None and done.replayed >= letter.received

    code, out, err = await twin("deadletters", "list", "--json", state_dir=state)
    assert (code, out, err) == (0, "", "")  # nothing pending
    code, out, err = await twin("deadletters", "list", "--json", "--all", state_dir=state)
    assert code == 0, err
    [listed] = [json.loads(line) for line in out.splitlines()]
    assert listed["id"] == letter.id and listed["replayed"] == done.replayed.isoformat()


async def test_list_without_a_store_is_a_one_line_error(tmp_path: Path) -> None:
    code, out, err = await twin("deadletters", "list", state_dir=tmp_path)
    assert code != 0
    assert out == ""
    assert err.strip().splitlines() == [
        f"Error: no dead-letter store at {tmp_path / 'deadletters.sqlite'} "
        "(nothing was refused yet, or set TWIN_STATE_DIR)"]
    assert not (tmp_path / "deadletters.sqlite").exists()  # looking did not create one
