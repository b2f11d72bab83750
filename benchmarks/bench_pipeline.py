"""Pipeline throughput: readings per second through line protocol, the edge queue and ingest.

Run with `make bench` (or `.venv/bin/python -m pytest benchmarks/bench_pipeline.py -s`).
Each figure is printed together with a baseline measured in the same run, because these
machines are noisy: ratios travel, absolute numbers do not.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_agent.queue import DiskQueue
from ingest import Ingest
from ingest.schema import fast_telemetry_lines, telemetry_lines
from tests.helpers import eventually, running
from twin import topics
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

ASSET = AssetPath("bench", "area", "line", "m1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _readings(n: int, signals: int = 20) -> list[Reading]:
    return [Reading(ASSET, f"s{i % signals}", T0 + timedelta(milliseconds=i // signals), float(i)) for i in range(n)]


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} readings/s"


def test_line_protocol_serialisation() -> None:
    readings = _readings(20_000)
    t = time.perf_counter()
    lines = telemetry_lines(readings)
    serialise_s = time.perf_counter() - t
    t = time.perf_counter()
    fast = fast_telemetry_lines(readings)
    fast_s = time.perf_counter() - t
    assert fast == lines
    # Baseline: the cheapest possible formatting of the same points (no escaping at all).
    t = time.perf_counter()
    naive = [f"telemetry,asset={r.asset.asset},signal={r.signal} value={r.value} 0" for r in readings]
    naive_s = time.perf_counter() - t
    assert len(lines) == len(naive) == 20_000
    print(f"\nline protocol: influxdb-client Point {_rate(len(lines), serialise_s)}; "
          f"fast_telemetry_lines {_rate(len(fast), fast_s)} ({serialise_s / fast_s:.1f}x Point); "
          f"unescaped f-string baseline: {_rate(len(naive), naive_s)}; ratio {serialise_s / naive_s:.1f}x")


def test_disk_queue(tmp_path: Path) -> None:
    items = [("twin/v1/a/b/c/d/telemetry", b'{"signal":"s","ts":"2026-01-01T00:00:00.000000Z","value":1.0}')] * 50_000
    with DiskQueue(tmp_path / "q.sqlite") as q:
        t = time.perf_counter()
        for i in range(0, len(items), 500):
            q.put_many(items[i:i + 500])
        put_s = time.perf_counter() - t
        t = time.perf_counter()
        while q.depth:
            q.delete([i.id for i in q.peek(5000)])
        drain_s = time.perf_counter() - t
    print(f"\ndisk queue: put {_rate(len(items), put_s)} (batches of 500), peek+delete {_rate(len(items), drain_s)}")
    assert put_s > 0 and drain_s > 0


async def test_ingest_throughput(mqtt_endpoint: MqttEndpoint, influx: InfluxDB) -> None:
    n, per_message = 50_000, 250
    readings = _readings(n)
    # Baseline in the same run: InfluxDB's own write rate for the same points, same batch size.
    lines = telemetry_lines(readings)
    t = time.perf_counter()
    for i in range(0, n, per_message * 100):
        await influx.write(lines[i:i + per_message * 100])
    direct_s = time.perf_counter() - t
    await influx.query('DROP SERIES FROM "telemetry"')

    payloads = [encode(ASSET, readings[i:i + per_message], agent="bench") for i in range(0, n, per_message)]
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx)
    topic = topics.asset_topic(ASSET, "telemetry")
    async with MqttClient(endpoint=mqtt_endpoint, client_id="bench-pub") as pub, running(ingest.run()):
        await ingest.ready.wait()
        t = time.perf_counter()
        await asyncio.gather(*(pub.publish(topic, p, qos=1, timeout_s=60) for p in payloads))
        publish_s = time.perf_counter() - t

        async def done() -> bool:
            return ingest.stats.counters["points"] >= n

        await eventually(done, timeout_s=120, interval_s=0.05)
        total_s = time.perf_counter() - t
    rows = await influx.query('SELECT count("value") FROM "telemetry"')
    assert rows[0].values[0][1] == n
    print(f"\ningest end to end (publish QoS 1 → Mosquitto → ingest → InfluxDB, {per_message} readings/message): "
          f"{_rate(n, total_s)}; publishing alone {_rate(n, publish_s)}; "
          f"baseline direct InfluxDB writes {_rate(n, direct_s)}; ingest/direct = {direct_s / total_s:.2f}")
