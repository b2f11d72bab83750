"""Nothing lost: kill -9 one part at a time while independent sources produce, and count.

The sources are not the project's simulator: a plain asyncua server written here (5
variables, each value stamped with its own source time) and an MQTT "device" publishing
JSON with a timestamp. Every value they produce is logged; after the fault and recovery
the test compares the log with InfluxDB: lost = produced − stored; a duplicate would be one
reading stored under two times (impossible here, as every point is keyed by its source
time, so the count of stored points per signal is compared exactly).

`twin edge` and `twin ingest` run as real processes (so kill -9 is a real crash);
Mosquitto and InfluxDB are the Debian servers, killed with SIGKILL and restarted on the
same port and data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from asyncua import Server, ua

from app.localservers import LocalInfluxDB, LocalMosquitto, free_port
from tests.helpers import eventually
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import MqttClient, MqttError
from twin.settings import parse_mqtt_url

pytestmark = pytest.mark.integration

TWIN = str(Path(sys.executable).with_name("twin"))
N_VARS = 5
RATE_HZ = 20.0
DEVICE_TOPIC = "devices/meter-01"


@dataclass
class Produced:
    """What the independent sources produced (ground truth)."""

    opcua: dict[str, set[datetime]] = field(default_factory=lambda: {f"v{i}": set() for i in range(N_VARS)})
    device: set[datetime] = field(default_factory=set)


def plant_file(path: Path, opcua_port: int) -> Path:
    signals = {f"v{i}": {"unit": "", "opcua": {"connection": "cell", "node": f"ns=2;s=v{i}"}} for i in range(N_VARS)}
    path.write_text(yaml.safe_dump({
        "version": 1, "site": "f1",
        "connections": {"opcua": {"cell": {"endpoint": f"opc.tcp://127.0.0.1:{opcua_port}",
                                           "publishing_interval_ms": 50}}},
        "areas": {"a": {"lines": {"l1": {"assets": {
            "m1": {"type": "cnc", "signals": signals},
            "meter-01": {"type": "energy_meter", "signals": {
                "p": {"unit": "kW", "mqtt": {"topic": DEVICE_TOPIC, "path": "$.p", "timestamp_path": "$.ts"}}}},
        }}}}},
    }))
    return path


@contextlib.asynccontextmanager
async def opcua_source(port: int, produced: Produced, stop: asyncio.Event) -> AsyncIterator[None]:
    """A plain asyncua server whose variables change at RATE_HZ until `stop`, each change logged with its time."""
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:test:no-loss")
    assert ns == 2
    nodes = [await server.nodes.objects.add_variable(ua.NodeId(f"v{i}", ns), f"v{i}", 0.0) for i in range(N_VARS)]
    await server.start()

    async def change() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            now = datetime.now(UTC)
            ts = now.replace(microsecond=now.microsecond // 1000 * 1000)
            for i, node in enumerate(nodes):
                dv = ua.DataValue(ua.Variant(float(k), ua.VariantType.Double), SourceTimestamp=ts, ServerTimestamp=ts)
                await server.write_attribute_value(node.nodeid, dv)
                produced.opcua[f"v{i}"].add(ts)
            await asyncio.sleep(1 / RATE_HZ)

    task = asyncio.create_task(change())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.stop()


async def device(url: str, produced: Produced, stop: asyncio.Event) -> None:
    """An MQTT device: a reading every 1/RATE_HZ s; logged once the broker has acknowledged it."""
    async with MqttClient(endpoint=parse_mqtt_url(url), client_id="test-device") as client:
        k = 0
        while not stop.is_set():
            k += 1
            ts = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(milliseconds=k * 50)
            try:
                # Produced = delivered to a subscriber: before the edge ever subscribed, or with the
                # broker away, a device's reading goes nowhere (PUBACK 0x10 / no PUBACK).
                await client.publish(DEVICE_TOPIC, json.dumps({"p": float(k), "ts": ts.isoformat()}).encode(),
                                     qos=1, timeout_s=1, require_subscriber=True)
                produced.device.add(ts)
            except MqttError:
                pass
            await asyncio.sleep(1 / RATE_HZ)


class Twin:
    """A `twin` service as a child process, killable with SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([TWIN, *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Rig:
    mosquitto: LocalMosquitto
    influxd: LocalInfluxDB
    db: InfluxDB
    edge: Twin
    ingest: Twin
    produced: Produced
    stop: asyncio.Event


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[LocalMosquitto, LocalInfluxDB]]:
    with LocalMosquitto(tmp_path / "mosquitto", None) as m, LocalInfluxDB(tmp_path / "influxdb", None) as i:
        yield m, i


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> AsyncIterator[Rig]:
    mosquitto, influxd = servers
    opcua_port = free_port()
    plant = plant_file(tmp_path / "plant.yaml", opcua_port)
    env = {**os.environ, "TWIN_PLANT_FILE": str(plant), "TWIN_MQTT_URL": mosquitto.url,
           "TWIN_INFLUX_URL": influxd.url, "TWIN_INFLUX_DB": "noloss", "TWIN_STATE_DIR": str(tmp_path / "state"),
           "PYTHONUNBUFFERED": "1"}
    produced = Produced()
    stop = asyncio.Event()
    edge = Twin(["--log-level", "INFO", "edge", "--agent-id", "edge-nl"], env, tmp_path / "edge.log")
    ingest = Twin(["--log-level", "INFO", "ingest", "--worker-id", "ingest-nl"], env, tmp_path / "ingest.log")
    async with InfluxDB(url=influxd.url, database="noloss") as db, opcua_source(opcua_port, produced, stop):
        await db.create_database()
        ingest.start()
        edge.start()
        try:
            yield Rig(mosquitto, influxd, db, edge, ingest, produced, stop)
        finally:
            edge.stop()
            ingest.stop()


async def stored(db: InfluxDB, since: datetime) -> dict[str, int]:
    """Points per signal: OPC UA ones from `since` (when the edge was subscribed), all of the device's."""
    try:
        opcua = await db.query('SELECT count("value") FROM "telemetry" WHERE time >= $since AND "asset" = \'m1\' '
                               'GROUP BY "signal"', params={"since": since.isoformat()})
        device = await db.query('SELECT count("value") FROM "telemetry" WHERE "signal" = \'p\' GROUP BY "signal"')
    except InfluxError:  # the database may be the one that was killed
        return {}
    return {s.tags["signal"]: int(s.values[0][1]) for s in [*opcua, *device]}


async def run_fault(r: Rig, fault: str, *, before_s: float = 4.0, outage_s: float = 3.0) -> None:
    """Produce, inject `fault`, recover, produce again, then wait until everything produced is stored."""
    dev = asyncio.create_task(device(r.mosquitto.url, r.produced, r.stop))

    async def flowing() -> bool:
        counts = await stored(r.db, datetime.now(UTC) - timedelta(days=1))
        return counts.get("p", 0) > 0 and all(counts.get(f"v{i}", 0) > 0 for i in range(N_VARS))

    await eventually(flowing, timeout_s=60, interval_s=0.3)
    # OPC UA changes count from here: the edge is subscribed (what changed before had no client).
    since = datetime.now(UTC)
    await asyncio.sleep(before_s)  # a steady stream before the fault
    if fault == "ingest":
        r.ingest.kill()
        await asyncio.sleep(outage_s)
        r.ingest.start()
    elif fault == "influxdb":
        r.influxd.stop(kill=True)
        await asyncio.sleep(outage_s)
        r.influxd.start()
    elif fault == "mosquitto":
        r.mosquitto.stop(kill=True)
        await asyncio.sleep(outage_s)
        r.mosquitto.start()
    elif fault == "edge":
        r.edge.kill()
        await asyncio.sleep(outage_s)
        r.edge.start()
    elif fault == "mosquitto+late-ingest":
        # The broker dies with ingest; the edge is back with the broker, ingest 20 s later.
        r.ingest.kill()
        r.mosquitto.stop(kill=True)
        await asyncio.sleep(outage_s)
        r.mosquitto.start()
        await asyncio.sleep(20)
        r.ingest.start()
    await asyncio.sleep(before_s)  # a steady stream after recovery
    r.stop.set()
    await dev
    await asyncio.sleep(1 / RATE_HZ * 2)  # the OPC UA writer's last round

    want = ({name: sum(1 for t in ts if t >= since) for name, ts in r.produced.opcua.items()}
            | {"p": len(r.produced.device)})

    # With the edge killed, OPC UA changes made meanwhile are nobody's (see below): wait for the device's.
    expect = {"p": want["p"]} if fault == "edge" else want

    async def all_stored() -> bool:
        counts = await stored(r.db, since)
        return all(counts.get(k, 0) >= n for k, n in expect.items())

    try:
        await eventually(all_stored, timeout_s=90, interval_s=0.5)
    finally:
        got = await stored(r.db, since)
        print(f"\n{fault}: produced {want}; stored {got}")
        series = await r.db.query('SELECT "value" FROM "telemetry" WHERE "signal" = \'p\'', epoch="ms")
        have = {int(v[0]) for s in series for v in s.values}
        missing = sorted(int(t.timestamp() * 1000) for t in r.produced.device if int(t.timestamp() * 1000) not in have)
        if missing:
            base = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
            print(f"device readings missing: k = {[(m - base) // 50 for m in missing][:80]}")
    got = await stored(r.db, since)
    if fault == "edge":
        # Nothing collects OPC UA changes while the edge is dead (no client is subscribed):
        # those are gone unless the server keeps history. The device path loses nothing.
        assert got["p"] == want["p"]
        for i in range(N_VARS):
            lost = want[f"v{i}"] - got[f"v{i}"]
            assert 0 <= lost <= (outage_s + 10) * RATE_HZ, (f"v{i}", lost)
        return
    assert got == want  # 0 lost, and no reading stored under a second time


async def test_kill_9_ingest_loses_nothing(tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    async with rig(tmp_path, servers) as r:
        await run_fault(r, "ingest")


async def test_kill_9_influxdb_loses_nothing(tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    async with rig(tmp_path, servers) as r:
        await run_fault(r, "influxdb")


async def test_kill_9_mosquitto_loses_nothing(tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    async with rig(tmp_path, servers) as r:
        await run_fault(r, "mosquitto")


async def test_kill_9_edge_loses_no_device_reading(tmp_path: Path,
                                                   servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    async with rig(tmp_path, servers) as r:
        await run_fault(r, "edge")


async def test_kill_9_mosquitto_with_ingest_back_20_s_after_the_edge_loses_nothing(
        tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    async with rig(tmp_path, servers) as r:
        await run_fault(r, "mosquitto+late-ingest")


async def test_a_broker_outage_backlog_drains_at_ten_times_the_live_rate(
        tmp_path: Path, servers: tuple[LocalMosquitto, LocalInfluxDB]) -> None:
    """The broker stopped for 20 s: the OPC UA backlog waits on the edge's disk, then drains fast."""
    outage_s = 20.0
    async with rig(tmp_path, servers) as r:
        async def flowing() -> bool:
            counts = await stored(r.db, datetime.now(UTC) - timedelta(days=1))
            return all(counts.get(f"v{i}", 0) > 0 for i in range(N_VARS))

        await eventually(flowing, timeout_s=60, interval_s=0.3)
        since = datetime.now(UTC)
        await asyncio.sleep(2)
        r.mosquitto.stop()
        await asyncio.sleep(outage_s)
        backlog_want = {name: sum(1 for t in ts if t >= since) for name, ts in r.produced.opcua.items()}
        r.mosquitto.start()
        back = asyncio.get_running_loop().time()

        async def backlog_stored() -> bool:
            counts = await stored(r.db, since)
            return all(counts.get(k, 0) >= n for k, n in backlog_want.items())

        await eventually(backlog_stored, timeout_s=60, interval_s=0.05)
        drain_s = asyncio.get_running_loop().time() - back
        await asyncio.sleep(1)  # live data flows again
        r.stop.set()
        await asyncio.sleep(2 / RATE_HZ)
        want = {name: sum(1 for t in ts if t >= since) for name, ts in r.produced.opcua.items()}

        async def all_stored() -> bool:
            counts = await stored(r.db, since)
            return all(counts.get(k, 0) >= n for k, n in want.items())

        await eventually(all_stored, timeout_s=60, interval_s=0.2)
        got = await stored(r.db, since)
        assert {k: got[k] for k in want} == want
        backlog = N_VARS * RATE_HZ * outage_s
        live = N_VARS * RATE_HZ
        rate = backlog / drain_s
        print(f"\nbroker stopped {outage_s:g} s: backlog {backlog:.0f} readings stored {drain_s:.2f} s after the "
              f"broker was back ({rate:.0f} readings/s, live rate {live:.0f}/s)")
        assert rate >= 10 * live
