"""Hostile input against the running services, on real Mosquitto and InfluxDB.

More than 10 000 hostile messages — the payloads that crashed services before (100 000-deep
nesting, 400- and 5000-digit numbers, timestamps in year 1 and 9999, `"v": true`), invalid
UTF-8, a BOM, NaN and Infinity, megabyte strings, line-protocol metacharacters and
newlines, unknown assets and signals, wrong versions, binary junk — interleaved with good
readings on the telemetry, device, edge-status and alert topics. At the end every service
is alive and still working, every good reading is in InfluxDB exactly, every hostile
message is a dead letter with a reason, and no series exists outside the plant file.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.alerts.config import AlertsConfig
from analytics.alerts.service import AlertService
from analytics.runtime import AnalyticRunner
from analytics.spc.service import build_spc
from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest
from tests.helpers import eventually, running
from twin import topics
from twin.deadletter import DeadLetterStore
from twin.influx import InfluxDB, to_ns
from twin.mqtt import MqttClient
from twin.plant import Plant, parse_plant
from twin.readings import Quality, Reading, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

CNC = AssetPath("f1", "machining", "line-1", "cnc-01")
METER = AssetPath("f1", "machining", "line-1", "meter-01")
GAUGE = AssetPath("f1", "machining", "line-1", "gauge-01")
DEVICE_TOPIC = "devices/meter-01"
AGENT = "edge-fuzz"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def fuzz_plant() -> Plant:
    return parse_plant({
        "version": 1, "site": "f1",
        "areas": {"machining": {"lines": {"line-1": {"assets": {
            "cnc-01": {"type": "cnc", "signals": {
                "spindle_load": {"unit": "%", "mqtt": {"topic": "devices/cnc-01", "path": "$.load"}},
                "spindle_temp": {"unit": "degC", "mqtt": {"topic": "devices/cnc-01", "path": "$.temp"}},
                "program": {"mqtt": {"topic": "devices/cnc-01", "path": "$.program"}},
            }},
            "meter-01": {"type": "energy_meter", "meters": "cnc-01", "signals": {
                "power_kw": {"unit": "kW", "mqtt": {"topic": DEVICE_TOPIC, "path": "$.p", "timestamp_path": "$.ts"}},
            }},
            "gauge-01": {"type": "gauge", "measures": "cnc-01", "signals": {
                "bore_mm": {"unit": "mm", "mqtt": {"topic": "devices/gauge-01", "path": "$.bore"},
                            "spc": {"chart": "imr", "rules": "we", "lsl": 19.9, "usl": 20.1, "target": 20.0}},
            }},
        }}}}},
    })


@dataclass(frozen=True)
class Hostile:
    topic: str
    payload: bytes
    service: str  # which service must keep it as a dead letter


def _telemetry(asset: AssetPath, items: list[dict[str, object]], **body: object) -> bytes:
    doc: dict[str, object] = {"v": 1, "asset": str(asset), "agent": "x", "readings": items, **body}
    return json.dumps(doc).encode()


def _item(**over: object) -> dict[str, object]:
    return {"signal": "spindle_load", "ts": "2026-11-30T08:00:00Z", "value": 1.0, "quality": "good", **over}


def hostile_messages(rng: random.Random) -> Iterator[Hostile]:
    """The hostile corpus: each family several times, plus random junk, > 10 000 in all."""
    tel = topics.asset_topic(CNC, "telemetry")
    alerts = topics.asset_topic(CNC, "alerts")
    status = topics.edge_status("fuzzer")
    deep = b"[" * 100_000 + b"]" * 100_000
    big_int = int("9" * 400)
    telemetry_payloads = [
        deep,
        b'{"v": 1, "asset": "f1/machining/line-1/cnc-01", "readings": [' + b"{" * 50_000 + b"}" * 50_000 + b"]}",
        _telemetry(CNC, [_item(value=big_int)]),
        _telemetry(CNC, [_item()]).replace(b"1.0", b"1" + b"0" * 5000),
        _telemetry(CNC, [_item(ts="0001-01-01T00:00:00+01:00")]),
        _telemetry(CNC, [_item(ts="9999-12-31T23:59:59-01:00")]),
        _telemetry(CNC, [_item(ts="2026-11-30T08:00:00")]),  # no zone
        _telemetry(CNC, [_item(ts=12345)]),
        _telemetry(CNC, [_item()], v=True),
        _telemetry(CNC, [_item()], v=2),
        _telemetry(CNC, [_item()], v="1"),
        _telemetry(CNC, [_item()], v=1.0),
        b"\xff\xfe\x00garbage",
        b"\xef\xbb\xbf" + _telemetry(CNC, [_item()]),  # UTF-8 BOM
        _telemetry(CNC, [_item()]).replace(b"1.0", b"NaN"),
        _telemetry(CNC, [_item()]).replace(b"1.0", b"Infinity"),
        _telemetry(CNC, [_item()]).replace(b"1.0", b"-Infinity"),
        _telemetry(CNC, [_item(value="x" * 1_000_000)]),
        _telemetry(CNC, [_item(value="line one\nspindle_load value=99 1")]),
        _telemetry(CNC, [_item(signal="spindle_load,asset=evil value=1")]),
        _telemetry(CNC, [_item(signal="spindle load")]),
        _telemetry(CNC, [_item(signal="spindle\nload")]),
        _telemetry(CNC, [_item(quality="excellent")]),
        _telemetry(CNC, [_item(status=["x"])]),
        _telemetry(CNC, [_item(value={"nested": 1})]),
        _telemetry(CNC, []),
        _telemetry(AssetPath("f1", "machining", "line-1", "gauge-01"), [_item()]),  # asset ≠ topic
        b"null", b"[]", b'"a string"', b"{}", b"",
        b"x" * (2 * 1024 * 1024),  # over the payload limit
    ]
    for _ in range(40):
        for p in telemetry_payloads[:-1]:
            yield Hostile(tel, p, "ingest")
    for _ in range(5):
        yield Hostile(tel, telemetry_payloads[-1], "ingest")
    # Unknown assets (each would be new series) and unknown signals of a known asset.
    for i in range(3000):
        ghost = AssetPath("f1", "machining", "line-1", f"ghost-{i}")
        yield Hostile(topics.asset_topic(ghost, "telemetry"), _telemetry(ghost, [_item()]), "ingest")
    for i in range(1000):
        yield Hostile(tel, _telemetry(CNC, [_item(signal=f"phantom_{i}")]), "ingest")
    # Binary junk of random sizes.
    for _ in range(2600):
        yield Hostile(tel, rng.randbytes(rng.randint(1, 2000)), "ingest")
    # Device topic: read by the edge agent.
    device_payloads = [deep, b'{"p": ' + b"9" * 400 + b', "ts": "2026-11-30T08:00:00Z"}',
                       b'{"p": 1' + b"0" * 5000 + b', "ts": "2026-11-30T08:00:00Z"}',
                       b'{"p": 1.0, "ts": "0001-01-01T00:00:00+01:00"}',
                       b'{"p": 1.0, "ts": "9999-12-31T23:59:59-01:00"}',
                       b'{"p": NaN, "ts": "2026-11-30T08:00:00Z"}', b'{"ts": "2026-11-30T08:00:00Z"}',
                       b'{"p": "x\\ny", "ts": "2026-11-30T08:00:00Z"}', b"\xff\xfe", b"not json"]
    for _ in range(100):
        for p in device_payloads:
            yield Hostile(DEVICE_TOPIC, p, f"edge.{AGENT}")
    # Edge status: read by ingest (pipeline metrics) and the alert service (connectivity).
    status_payloads = [deep, b"\xff", b"[]", b'{"agent": "fuzzer"}',
                       b'{"agent": "fuzzer", "state": "online", "ts": "0001-01-01T00:00:00+01:00"}',
                       b'{"agent": "fuzzer", "state": "online", "queue_depth": ' + b"9" * 5000 + b"}"]
    for _ in range(100):
        for p in status_payloads:
            yield Hostile(status, p, "ingest")
    # Alert events: read by the alert service.
    good_event = {"v": 1, "asset": str(CNC), "source": "fuzz", "kind": "k", "severity": "warning",
                  "state": "firing", "key": "fuzz:k", "message": "m", "ts": "2026-11-30T08:00:00Z", "details": {}}
    event_payloads = [deep, b"\xff", json.dumps({**good_event, "v": True}).encode(),
                      json.dumps({**good_event, "ts": "0001-01-01T00:00:00+01:00"}).encode(),
                      json.dumps({**good_event, "ts": "9999-12-31T23:59:59-01:00"}).encode(),
                      json.dumps({**good_event, "severity": "apocalyptic"}).encode(),
                      json.dumps({**good_event, "asset": "f1/machining/line-1/ghost"}).encode(),
                      json.dumps({**good_event, "details": [1, 2]}).encode(),
                      json.dumps({**good_event, "message": "x" * 1_000_000}).encode()]
    for _ in range(60):
        for p in event_payloads:
            yield Hostile(alerts, p, "alerts")
    ghost = AssetPath("f1", "machining", "line-1", "ghost")
    for _ in range(100):
        yield Hostile(topics.asset_topic(ghost, "alerts"), json.dumps({**good_event, "asset": str(ghost)}).encode(),
                      "alerts")


def good_readings(n_messages: int) -> list[tuple[AssetPath, list[Reading]]]:
    """Good telemetry: cnc-01's signals and gauge parts, distinct source times."""
    out = []
    for i in range(n_messages):
        ts = T0 + timedelta(seconds=i)
        out.append((CNC, [Reading(CNC, "spindle_load", ts, 40.0 + i % 17, Quality.GOOD),
                          Reading(CNC, "spindle_temp", ts, 30.5 + (i % 5) / 10, Quality.GOOD),
                          Reading(CNC, "program", ts, f"O{1000 + i % 3}", Quality.GOOD)]))
        out.append((GAUGE, [Reading(GAUGE, "bore_mm", ts, 20.0 + ((i % 7) - 3) / 1000, Quality.GOOD)]))
    return out


async def _publish_all(client: MqttClient, messages: list[tuple[str, bytes]]) -> None:
    """Publish in order, up to 200 messages or 2 MB in flight at a time (the fuzzer is a client, not a flood)."""
    chunk: list[tuple[str, bytes]] = []
    size = 0
    for topic, payload in [*messages, ("", b"")]:
        if chunk and (not topic or len(chunk) >= 200 or size + len(payload) > 2_000_000):
            await asyncio.gather(*(client.publish(t, p, qos=1, timeout_s=60) for t, p in chunk))
            chunk, size = [], 0
        chunk.append((topic, payload))
        size += len(payload)


async def test_ten_thousand_hostile_messages_stop_nothing_and_lose_no_good_reading(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path
) -> None:
    plant = fuzz_plant()
    rng = random.Random(20261202)
    hostile = list(hostile_messages(rng))
    assert len(hostile) >= 10_000
    good = good_readings(300)
    device_good = [(DEVICE_TOPIC, json.dumps({"p": 10.0 + i, "ts": (T0 + timedelta(seconds=i)).isoformat()}).encode())
                   for i in range(200)]
    # Interleave: good readings spread through the hostile storm.
    stream: list[tuple[str, bytes]] = [(h.topic, h.payload) for h in hostile]
    for k, (asset, readings) in enumerate(good):
        stream.insert((k * len(stream)) // len(good), (topics.asset_topic(asset, "telemetry"),
                                                       encode(asset, readings, agent="fuzz")))
    for k, message in enumerate(device_good):
        stream.insert((k * len(stream)) // len(device_good), message)

    store = DeadLetterStore(tmp_path / "deadletters.sqlite")
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant, deadletters=store)
    spc = build_spc(plant)
    assert spc is not None
    runner = AnalyticRunner(spc, mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant, deadletters=store)
    alerts = AlertService(AlertsConfig(), db_path=tmp_path / "alerts.db", mqtt_endpoint=mqtt_endpoint,
                          plant=plant, deadletters=store, tick_s=0.5)
    edge = EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint, deadletters=store,
                     options=EdgeOptions(agent_id=AGENT, queue_path=tmp_path / "q.sqlite", linger_s=0.02))
    async with running(ingest.run(), runner.run(), alerts.run(), edge.run()) as tasks, \
            MqttClient(endpoint=mqtt_endpoint, client_id="fuzzer") as fuzzer:
        await asyncio.gather(ingest.ready.wait(), runner.ready.wait(), alerts.ready.wait(), edge.wait_ready(30))
        await fuzzer.wait_connected(10)
        await _publish_all(fuzzer, stream)

        expected = {service: sum(1 for h in hostile if h.service == service) for service in
                    ("ingest", "alerts", f"edge.{AGENT}")}

        async def all_dead_lettered() -> bool:
            counts = {s: store.count(service=s, messages=True) for s in expected}
            return all(counts[s] >= n for s, n in expected.items())

        await eventually(all_dead_lettered, timeout_s=600, interval_s=1)

        # Every service is alive, and still does its work after the storm.
        assert not any(t.done() for t in tasks)
        late = T0 + timedelta(hours=1)
        await fuzzer.publish(topics.asset_topic(CNC, "telemetry"),
                             encode(CNC, [Reading(CNC, "spindle_load", late, 77.0)], agent="fuzz"), qos=1)
        await fuzzer.publish(DEVICE_TOPIC, json.dumps({"p": 5.5, "ts": late.isoformat()}).encode(), qos=1)
        event = {"v": 1, "asset": str(CNC), "source": "fuzz", "kind": "k", "severity": "warning",
                 "state": "firing", "key": "fuzz:after", "message": "after the storm", "ts": late.isoformat(),
                 "details": {}}
        await fuzzer.publish(topics.asset_topic(CNC, "alerts"), json.dumps(event).encode(), qos=1)

        async def good_all_stored() -> bool:
            rows = await influx.query('SELECT count("quality") FROM "telemetry" GROUP BY "asset", "signal"')
            counts = {(s.tags["asset"], s.tags["signal"]): int(s.values[0][1]) for s in rows}
            return (counts.get(("cnc-01", "spindle_load")) == 301 and counts.get(("meter-01", "power_kw")) == 201
                    and counts.get(("gauge-01", "bore_mm")) == 300)

        await eventually(good_all_stored, timeout_s=120, interval_s=0.5)
        manager = alerts.manager
        assert manager is not None
        await eventually(lambda: _has_alert(alerts, "fuzz:after"), timeout_s=30)
        assert not any(t.done() for t in tasks)

    # Exactly the good values, at their source times.
    rows = await influx.query('SELECT "value", "text" FROM "telemetry" WHERE "asset" = \'cnc-01\' '
                              'GROUP BY "signal"')
    stored = {(s.tags["signal"], v[0]): (v[1], v[2]) for s in rows for v in s.values}
    for _asset, readings in good[::2]:
        for r in readings:
            key = (r.signal, to_ns(r.ts))
            want = (None, r.value) if isinstance(r.value, str) else (float(r.value), None)  # type: ignore[arg-type]
            assert stored[key] == want, key
    # No series outside the plant's assets and signals.
    tag_rows = await influx.query('SHOW TAG VALUES FROM "telemetry" WITH KEY IN ("asset", "signal")')
    values = {(v[0], v[1]) for s in tag_rows for v in s.values}
    assert {v for k, v in values if k == "asset"} == {"cnc-01", "meter-01", "gauge-01"}
    assert {v for k, v in values if k == "signal"} == {"spindle_load", "spindle_temp", "program", "power_kw", "bore_mm"}
    # Every hostile message is a dead letter with a reason, and nothing else is. (The same
    # payload sent again is kept once, with its repeats counted: the corpus repeats each family.)
    for service, n in expected.items():
        letters = store.entries(service=service, limit=100_000)
        assert sum(1 + d.repeats for d in letters) == n, service
        assert all(d.reason for d in letters)
    assert store.count(service="analytics") >= 1  # the SPC runner refuses malformed telemetry too
    store.close()
    print(f"\nfuzz: sent {len(hostile)} hostile + {len(good) + len(device_good) + 3} good messages; "
          f"dead letters {expected}; good readings stored {sum(len(r) for _, r in good) + 200 + 2}; crashes 0")


async def _has_alert(service: AlertService, key: str) -> bool:
    manager = service.manager
    return manager is not None and any(a.key == key for a in manager.open_alerts)
