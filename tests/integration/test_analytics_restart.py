"""kill -9 an analytic mid-stream and start it again: it resumes where it was, nothing missing or doubled.

`twin spc run` and `twin energy run` run as real processes (so SIGKILL is a real crash)
on the real Mosquitto and InfluxDB. A publisher sends the whole stream at a steady rate
while the test kills the service once it has written some results, starts it again (the
broker keeps the messages of its persistent session meanwhile and redelivers what was
not acknowledged) and, to be sure, redelivers an old message once more. The reference is
the same analytic run in-process over the same readings without a restart: InfluxDB must
hold exactly its points.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.energy.service import build_energy
from analytics.runtime import AnalyticRunner, Output
from analytics.spc.service import build_spc
from analytics.spc.store import LimitsKey, LimitsStore, limits_path
from analytics.state import StateStore, state_path
from tests.helpers import EXAMPLE_PLANT, eventually, example_plant, running
from tests.unit.spc.test_service import gauge_readings
from twin import topics
from twin.decoders import telemetry
from twin.influx import InfluxDB
from twin.mqtt import Message, MqttClient, MqttError
from twin.plant import Plant
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint

pytestmark = pytest.mark.integration

TWIN = str(Path(sys.executable).with_name("twin"))
GAUGE = "demo-plant/machining/line-1/gauge-cnc-01"
COUNTER_MAX_KWH = 1_000_000.0  # the example meter's register


class Service:
    """A `twin … run` child process: started, killed with SIGKILL, or stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([TWIN, *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.starts += 1

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@contextlib.contextmanager
def service(name: str, tmp_path: Path, mqtt: MqttEndpoint, influx: InfluxDB) -> Iterator[Service]:
    env = {**os.environ, "TWIN_MQTT_URL": f"mqtt://{mqtt.host}:{mqtt.port}", "TWIN_INFLUX_URL": influx.url,
           "TWIN_INFLUX_DB": influx.database, "TWIN_STATE_DIR": str(tmp_path / "state"),
           "TWIN_PLANT_FILE": str(EXAMPLE_PLANT)}
    svc = Service([name, "run", "--instance", "restart-test"], env, tmp_path / f"{name}.log")
    try:
        yield svc
    finally:
        svc.stop()
        sys.stdout.write(f"--- {svc.log.name}\n{svc.log.read_text(errors='replace')[-3000:]}\n")


async def subscribed(client: MqttClient, plant: Plant) -> None:
    """Wait until the service's subscription exists (a harmless reading it does not use, refused until then)."""
    cnc, _ = plant.asset("cnc-01")
    probe = encode(cnc, [Reading(cnc, "spindle_temp", datetime(2026, 1, 1, tzinfo=UTC), 20.0)], agent="probe")

    async def accepted() -> bool:
        try:
            await client.publish(topics.asset_topic(cnc, "telemetry"), probe, qos=1, timeout_s=5,
                                 require_subscriber=True)
            return True
        except MqttError:
            return False
    await eventually(accepted, timeout_s=30, interval_s=0.2)


@contextlib.asynccontextmanager
async def kill_when(svc: Service, condition: Callable[[], Any]) -> AsyncIterator[dict[str, Any]]:
    """Kill -9 the service the moment `condition()` (async) holds, then start it again."""
    seen: dict[str, Any] = {}

    async def watch() -> None:
        async def holds() -> bool:
            seen["at_kill"] = await condition()
            return bool(seen["at_kill"])
        await eventually(holds, timeout_s=30, interval_s=0.05)
        svc.kill()
        svc.start()

    task = asyncio.create_task(watch())
    try:
        yield seen
        await asyncio.wait_for(task, 30)
    finally:
        task.cancel()


async def publish(client: MqttClient, messages: list[tuple[str, bytes]], *, pause_s: float,
                  also: dict[int, tuple[str, bytes]]) -> None:
    """The stream at a steady rate; `also[i]` is sent again (a redelivery) after message i."""
    for i, (topic, payload) in enumerate(messages):
        await client.publish(topic, payload, qos=1, timeout_s=10)
        if i in also:
            await client.publish(*also[i], qos=1, timeout_s=10)
        await asyncio.sleep(pause_s)


@contextlib.asynccontextmanager
async def reference_db(influx: InfluxDB, lines: list[str]) -> AsyncIterator[InfluxDB]:
    """A second database of the same server holding what an uninterrupted run writes: compared query for query."""
    async with InfluxDB(url=influx.url, database=f"{influx.database}_reference") as db:
        await db.create_database()
        for i in range(0, len(lines), 5000):
            await db.write(lines[i:i + 5000])  # in write order: a rewritten point keeps its last version
        yield db


async def stored(influx: InfluxDB, measurement: str, tags: tuple[str, ...]) -> dict[tuple[str, int], dict[str, Any]]:
    series = await influx.query(f'SELECT * FROM "{measurement}"')
    out = {}
    for rec in (r for s in series for r in s.records()):
        head = ",".join([measurement, *(f"{t}={rec[t]}" for t in tags if rec.get(t))])
        out[(head, int(rec["time"]))] = {k: v for k, v in rec.items() if k not in (*tags, "time") and v is not None}
    return out


def same(got: dict[tuple[str, int], dict[str, Any]], expected: dict[tuple[str, int], dict[str, Any]]) -> None:
    assert got.keys() == expected.keys(), (sorted(expected.keys() - got.keys())[:5],
                                           sorted(got.keys() - expected.keys())[:5])
    for k, fields in expected.items():
        for name, v in fields.items():
            assert got[k].get(name) == (pytest.approx(v, rel=1e-12, abs=1e-12) if isinstance(v, float) else v), \
                (k, name)


async def test_spc_killed_mid_stream_resumes_against_the_same_limits_with_no_point_missing_or_doubled(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    plant = example_plant()
    gauge, _ = plant.asset("gauge-cnc-01")
    # Phase I, a 3σ shift of the bore (violations), back on target: 500 parts, 10 a message.
    readings = gauge_readings(340, shift_from=300, shift=0.009) + gauge_readings(160, start=340, seed=2)
    topic = topics.asset_topic(gauge, "telemetry")
    messages = [(topic, encode(gauge, readings[i:i + 30], agent="test")) for i in range(0, len(readings), 30)]
    reference = build_spc(plant)
    assert reference is not None
    lines = reference.process(readings).lines
    n_points = sum(ln.startswith("spc,") for ln in lines)
    tags = ("site", "area", "line", "asset", "characteristic", "chart")

    async def charted() -> int:
        series = await influx.query('SELECT count("value") FROM "spc"')
        return int(series[0].values[0][1]) if series else 0

    async def charting() -> int:  # Phase I of length_mm done and charting: kill now
        n = await charted()
        return n if n >= 40 else 0

    with service("spc", tmp_path, mqtt_endpoint, influx) as svc:
        svc.start()
        async with MqttClient(endpoint=mqtt_endpoint, client_id="restart-test-publisher") as client:
            await subscribed(client, plant)
            async with kill_when(svc, charting) as seen:
                await publish(client, messages, pause_s=0.04, also={40: messages[12]})
            await eventually(lambda: _equal(charted, n_points), timeout_s=30)
        assert 0 < seen["at_kill"] < n_points and svc.starts == 2
        assert svc.stop() == 0

    got = await stored(influx, "spc", tags)
    async with reference_db(influx, lines) as ref:
        same(got, await stored(ref, "spc", tags))
    # The chart after the restart uses the limits from before it: one set per characteristic, one Phase I.
    for char in ("bore_diameter_mm", "length_mm"):
        limits = {(f["cl"], f["ucl"], f["lcl"]) for (head, _), f in got.items() if f"characteristic={char}," in head}
        assert len(limits) == 1
        history = LimitsStore(limits_path(tmp_path / "state")).history(LimitsKey(GAUGE, char))
        assert [h.action for h in history] == ["estimated"]
        assert history[0].by == "twin spc run --instance restart-test"
    assert any(f["violation"] for f in got.values())  # the shift was charted and signalled


async def _equal(count: Callable[[], Any], n: int) -> bool:
    return bool(await count() == n)


def meter_stream(plant: Plant, minutes: int = 180) -> list[tuple[str, bytes]]:
    """A counter a minute that rolls over, the machine's state every minute (30 min running, 30 idle)."""
    meter, _ = plant.asset("meter-cnc-01")
    cnc, _ = plant.asset("cnc-01")
    t0 = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    kwh = COUNTER_MAX_KWH - 10.0
    meter_r, state_r = [], []
    for m in range(minutes + 1):
        ts = t0 + timedelta(minutes=m)
        if m:
            kwh += (8.0 if ((m - 1) // 30) % 2 == 0 else 3.0) / 60
            if kwh >= COUNTER_MAX_KWH:
                kwh -= COUNTER_MAX_KWH + 0.1
        state_r.append(Reading(cnc, "state", ts, "running" if (m // 30) % 2 == 0 else "idle"))
        meter_r.append(Reading(meter, "energy_kwh", ts, round(kwh, 4)))
    out = []
    for i in range(0, len(meter_r), 5):  # the machine's state first, as its edge agent is faster
        out.append((topics.asset_topic(cnc, "telemetry"), encode(cnc, state_r[i:i + 5], agent="test")))
        out.append((topics.asset_topic(meter, "telemetry"), encode(meter, meter_r[i:i + 5], agent="test")))
    return out


def decoded(plant: Plant, messages: list[tuple[str, bytes]]) -> list[Reading]:
    decode = telemetry(plant)
    return [r for i, (t, p) in enumerate(messages) for r in decode(Message(t, p, 1, False, i)).value or ()]


async def test_energy_killed_mid_stream_gives_the_totals_of_an_uninterrupted_run(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    plant = example_plant()
    messages = meter_stream(plant)
    reference = build_energy(plant)
    assert reference is not None
    out = Output()
    for i in range(0, len(messages), 2):
        out.extend(reference.process([r for r in decoded(plant, messages[i:i + 2]) if reference.wants(r)]))
    tags = ("site", "area", "line", "asset", "period", "product")

    async def hours_written() -> int:
        series = await influx.query('SELECT count("energy_kwh") FROM "energy" WHERE "period" = \'hour\'')
        return int(series[0].values[0][1]) if series else 0

    async with reference_db(influx, out.lines) as ref:
        expected = await stored(ref, "energy", tags)
    assert len(expected) == 4 + 2 and all(f["gap"] == 0.0 for f in expected.values())  # 15:30–18:30: 4 h, 2 days

    async def totals_equal() -> bool:
        return _close(await stored(influx, "energy", tags), expected)

    with service("energy", tmp_path, mqtt_endpoint, influx) as svc:
        svc.start()
        async with MqttClient(endpoint=mqtt_endpoint, client_id="restart-test-publisher") as client:
            await subscribed(client, plant)
            async with kill_when(svc, hours_written) as seen:  # the first hour is open: kill mid-interval
                await publish(client, messages, pause_s=0.03, also={50: messages[41]})
            await eventually(totals_equal, timeout_s=30)
        assert seen["at_kill"] >= 1 and svc.starts == 2
        assert svc.stop() == 0
    same(await stored(influx, "energy", tags), expected)
    with StateStore(state_path(tmp_path / "state")) as states:
        assert [(a, i) for a, i, _, _ in states.saved()] == [("energy", "restart-test")]


def _close(got: dict[tuple[str, int], dict[str, Any]], expected: dict[tuple[str, int], dict[str, Any]]) -> bool:
    try:
        same(got, expected)
    except AssertionError:
        return False
    return True


async def test_a_checkpoint_that_cannot_be_read_is_logged_and_the_analytic_starts_fresh(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plant = example_plant()
    gauge, _ = plant.asset("gauge-cnc-01")
    path = state_path(tmp_path)
    with StateStore(path) as states:
        states.save("spc", "t", b"\x00 written by a newer version, or a damaged disk")
    analytic = build_spc(plant)
    assert analytic is not None
    runner = AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint, influx=influx, instance="t", state_path=path)
    async with MqttClient(endpoint=mqtt_endpoint, client_id="bad-checkpoint") as client, running(runner.run()):
        await asyncio.wait_for(runner.ready.wait(), 10)
        await client.publish(topics.asset_topic(gauge, "telemetry"), encode(gauge, gauge_readings(30), agent="t"),
                             qos=1, timeout_s=10)

        async def charted() -> bool:
            series = await influx.query('SELECT count("value") FROM "spc"')
            return bool(series) and series[0].values[0][1] == 30 - 25
        await eventually(charted, timeout_s=15)
        with StateStore(path) as states:
            saved = states.load("spc", "t")
        assert saved is not None and saved.startswith(b'{"format":')  # replaced by a good checkpoint
    assert "checkpoint not restored, starting fresh: unreadable snapshot" in caplog.text
    assert runner.stats.counters["checkpoint_refused"] == 1 and runner.stats.counters["checkpoints"] >= 1


async def test_limits_set_with_the_cli_take_effect_in_the_running_service(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    plant = example_plant()
    gauge, _ = plant.asset("gauge-cnc-01")
    topic = topics.asset_topic(gauge, "telemetry")
    with service("spc", tmp_path, mqtt_endpoint, influx) as svc:
        svc.start()
        async with MqttClient(endpoint=mqtt_endpoint, client_id="limits-test-publisher") as client:
            await subscribed(client, plant)
            await client.publish(topic, encode(gauge, gauge_readings(30), agent="t"), qos=1, timeout_s=10)

            async def ucls() -> set[float]:
                series = await influx.query('SELECT "ucl" FROM "spc" WHERE "characteristic" = \'length_mm\'')
                return {row[1] for s in series for row in s.values}
            await eventually(lambda: _nonempty(ucls), timeout_s=20)  # Phase I done: charting on its estimate
            estimated = await ucls()
            cli = await asyncio.create_subprocess_exec(
                TWIN, "spc", "limits", "set", "gauge-cnc-01/length_mm", "--cl", "50", "--ucl", "50.05", "--lcl",
                "49.95", "--by", "Q. Engineer", "--reason", "drawing rev D", env=svc.env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await cli.communicate()
            assert cli.returncode == 0, err.decode()
            next_part = iter(range(30, 10_000))

            async def new_limits_charted() -> bool:
                part = next(next_part)
                await client.publish(topic, encode(gauge, gauge_readings(1, start=part), agent="t"), qos=1,
                                     timeout_s=10)
                return 50.05 in await ucls()
            await eventually(new_limits_charted, timeout_s=20, interval_s=0.5)  # within the 5 s poll
        assert svc.stop() == 0
    assert len(estimated) == 1 and estimated != {50.05}
    history = LimitsStore(limits_path(tmp_path / "state")).history(LimitsKey(GAUGE, "length_mm"))
    assert [(h.action, h.by) for h in history] == [("estimated", "twin spc run --instance restart-test"),
                                                   ("set", "Q. Engineer")]


async def _nonempty(values: Callable[[], Any]) -> bool:
    return bool(await values())
