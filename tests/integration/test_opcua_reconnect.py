"""The OPC UA source across a server restart: back within a second, the gap filled from history or recorded.

The servers here are plain asyncua servers built in the test (not the project's
simulator), so the source is checked against an independent peer. A "restart" is a
server stopped and a new `Server` instance started on the same endpoint; it has
forgotten every session and subscription, as a restarted machine server has.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.common.node import Node
from asyncua.server.history_sql import HistorySQLite

from app.localservers import free_port
from edge_agent.sources.opcua.source import OpcUaSource
from tests.helpers import eventually, running
from twin.plant import Plant, parse_plant
from twin.readings import Reading
from twin.stats import Stats

pytestmark = pytest.mark.integration
OUTAGE_S = 3.0

# (node id, value, source time, status name): one value a server held, or one the source emitted.
Sample = tuple[str, Any, datetime, str]


def plant(endpoint: str, nodes: Iterable[str], **connection: Any) -> Plant:
    """One machine whose signals x0, x1, … are bound to `nodes` on one OPC UA connection."""
    signals = {f"x{i}": {"opcua": {"connection": "c", "node": node}} for i, node in enumerate(nodes)}
    return parse_plant({"version": 1, "site": "s",
                        "connections": {"opcua": {"c": {"endpoint": endpoint, **connection}}},
                        "areas": {"a": {"lines": {"l": {"assets": {"m": {"type": "cnc", "signals": signals}}}}}}})


class Clock:
    """Strictly increasing source times with a non-zero microsecond.

    asyncua's HistorySQLite stores times as ISO text and reads them back with sqlite3's
    `timestamp` converter, which fails on an aware time with no fraction ("…:05+00:00"):
    whole-second source times could not be read back from that server's history at all.
    """

    def __init__(self) -> None:
        self._last = datetime.now(UTC)

    def now(self) -> datetime:
        """The next source time."""
        ts = max(datetime.now(UTC), self._last + timedelta(microseconds=1))
        if ts.microsecond == 0:
            ts += timedelta(microseconds=1)
        self._last = ts
        return ts


@dataclass
class Machine:
    """A plain asyncua server with one Double variable per node id; records every value it holds."""

    port: int
    ids: list[str]
    history: Path | None = None  # historize every variable in this SQLite file (shared across restarts)
    claim_history: tuple[str, ...] = ()  # set the HistoryRead access bit on these without keeping history
    held: list[Sample] = field(default_factory=list)
    server: Server = field(default_factory=Server)
    nodes: dict[str, Node] = field(default_factory=dict)

    async def init(self) -> Machine:
        """The address space (slow: seconds here, so done before the timeline starts); not yet listening."""
        if self.history is not None:
            self.server.iserver.history_manager.set_storage(HistorySQLite(str(self.history)))
        await self.server.init()
        self.server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/")
        assert await self.server.register_namespace("urn:test:reconnect") == 2
        machine = await self.server.nodes.objects.add_object(ua.NodeId("machine", 2), "machine")
        for i, node in enumerate(self.ids):
            self.nodes[node] = await machine.add_variable(ua.NodeId.from_string(node), ua.QualifiedName(f"v{i}", 2),
                                                          0.0, ua.VariantType.Double)
        return self

    async def start(self, initial: dict[str, tuple[float | None, datetime, str]],
                    before: list[Sample] | None = None) -> None:
        """Each variable's first value (history starts with it), then `before` written, then listen."""
        for node, var in self.nodes.items():
            await self.write(node, *initial[node])  # before historizing, so the placeholder 0.0 never is
            if self.history is not None:
                await self.server.historize_node_data_change(var, period=None, count=0)
            elif node in self.claim_history:
                await var.set_attr_bit(ua.AttributeIds.AccessLevel, ua.AccessLevel.HistoryRead)
        await self.saved()
        for node, value, ts, status in before or ():
            await self.write_saved(node, value, ts, status)
        await self.server.start()

    async def write(self, node: str, value: float | None, ts: datetime, status: str = "Good") -> None:
        """Set a value with its source time and status, as the device would."""
        variant = ua.Variant(value, ua.VariantType.Double if value is not None else ua.VariantType.Null)
        dv = ua.DataValue(variant, StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
                          SourceTimestamp=ts, ServerTimestamp=ts)
        await self.server.write_attribute_value(self.nodes[node].nodeid, dv)
        self.held.append((node, value, ts, status))

    async def saved(self) -> None:
        """Wait until the server's history holds every value written (it historizes asynchronously)."""
        if self.history is None:
            return
        storage = self.server.iserver.history_manager.storage

        async def all_saved() -> bool:
            for node in self.ids:
                rows, _ = await storage.read_node_history(ua.NodeId.from_string(node), ua.get_win_epoch(), None, 0)
                # sqlite3's converter drops the "+00:00" it stored: the times come back naive UTC.
                stored = {dv.SourceTimestamp.replace(tzinfo=UTC) for dv in rows}
                if {ts for n, _, ts, _ in self.held if n == node} - stored:
                    return False
            return True

        await eventually(all_saved, timeout_s=10, interval_s=0.01)

    async def write_saved(self, node: str, value: float | None, ts: datetime, status: str = "Good") -> None:
        """Write, and wait until history has it (the history subscription keeps one change per publish)."""
        await self.write(node, value, ts, status)
        await self.saved()


class Recorder:
    """The source's emit: every reading with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.readings: list[tuple[float, Reading]] = []

    def __call__(self, reading: Reading) -> None:
        self.readings.append((time.monotonic(), reading))

    def samples(self, source: OpcUaSource) -> list[Sample]:
        """What was emitted, as (node id, value, source time, status name)."""
        node_of = {sig.name: sig.spec.section("opcua").node for sig in source.signals}
        return [(node_of[r.signal], r.value, r.ts, r.status or "Good") for _, r in self.readings]

    def has(self, source: OpcUaSource, wanted: Iterable[Sample]) -> bool:
        """Whether every wanted sample was emitted."""
        return set(wanted) <= set(self.samples(source))


def source_for(p: Plant, stats: Stats) -> OpcUaSource:
    """The source of the plant's one OPC UA connection."""
    return OpcUaSource(name="c", connection=p.connections_of("opcua")["c"], signals=list(p.signals()), stats=stats)


async def test_source_is_subscribed_again_within_a_second_of_a_restarted_server() -> None:
    port, ids, clock = free_port(), ["ns=2;s=machine.speed", "ns=2;s=machine.temp"], Clock()
    source = source_for(plant(f"opc.tcp://127.0.0.1:{port}", ids), Stats("t"))
    emitted = Recorder()
    first, second = await Machine(port, ids).init(), await Machine(port, ids).init()
    await first.start({n: (1.0, clock.now(), "Good") for n in ids})
    async with running(source.run(emitted)):
        await eventually(lambda: _true(emitted.has(source, first.held)), timeout_s=10, interval_s=0.01)
        stopping = time.monotonic()
        async with running(_when(lambda: not source.ready.is_set())) as (noticed,):
            await first.server.stop()  # asyncua takes about a second to stop
            await noticed
        noticed_s = noticed.result() - stopping
        await _sleep(OUTAGE_S - (time.monotonic() - stopping))  # the outage: how long the server is away
        await second.start({n: (2.0, clock.now(), "Good") for n in ids})
        started = time.monotonic()
        try:
            await eventually(lambda: _true(emitted.has(source, second.held)), timeout_s=10, interval_s=0.01)
        finally:
            await second.server.stop()
    resubscribed_s = min(t for t, _ in emitted.readings if t >= started) - started
    print(f"\nserver loss noticed {noticed_s:.3f} s after stop() was called; first value "
          f"{resubscribed_s:.3f} s after the restarted server's start() returned")
    assert noticed_s <= 2.0
    assert resubscribed_s <= 1.5


async def test_values_the_source_missed_during_a_restart_are_read_back_from_history_once_each(
        tmp_path: Path) -> None:
    """A historizing server restarts; every value it held arrives exactly once, none made up.

    Both server instances historize into one SQLite file, as a server with persistent
    history does. Three kinds of value are missed by the live subscription: (1) values
    the old server took in its last moments, after its last publish to us (the publishing
    interval is 2 s here, so they are certainly not sent before it stops); (2) values of
    the outage itself, which the restarted server received from its device and historized
    before it started listening (so they are in its history before the client can
    reconnect); one of them is Bad, to show the status comes back too. Then (3) live
    values after the restart. What the test proves: after the reconnect the source reads
    the restarted server's history from its last received value on and emits every value
    the two servers held, once per source time, with value and status, and nothing else.
    What it does not prove: that a server's history survives a restart (that is the
    server's storage), nor anything about a history that is lost or partial.
    """
    port, ids, clock = free_port(), ["ns=2;i=1001", "ns=2;i=1002"], Clock()
    db = tmp_path / "history.sqlite"
    stats = Stats("t")
    source = source_for(plant(f"opc.tcp://127.0.0.1:{port}", ids, publishing_interval_ms=2000), stats)
    emitted = Recorder()
    first = await Machine(port, ids, history=db).init()
    second = await Machine(port, ids, history=db).init()
    await first.start({n: (0.0, clock.now(), "Good") for n in ids})
    async with running(source.run(emitted)):
        await eventually(lambda: _true(emitted.has(source, first.held)), timeout_s=10, interval_s=0.01)
        for i in range(3):  # live values, each historized (the last one is where the gap starts)
            for node in ids:
                await first.write_saved(node, 10.0 + i, clock.now())
        await eventually(lambda: _true(emitted.has(source, first.held)), timeout_s=10, interval_s=0.01)
        last_moments = []
        for i in range(3):  # values the old server took after its last publish to us
            for node in ids:
                await first.write_saved(node, 20.0 + i, clock.now())
                last_moments.append(first.held[-1])
        missed_live = set(last_moments) - set(emitted.samples(source))
        await first.server.stop()
        outage: list[Sample] = []
        deadline = time.monotonic() + OUTAGE_S
        i = 0
        while time.monotonic() < deadline:  # the device keeps producing while the server is away
            for node in ids:
                bad = i == 5 and node == ids[0]
                outage.append((node, None if bad else 30.0 + i, clock.now(), "BadSensorFailure" if bad else "Good"))
            i += 1
            await _sleep(0.2)
        await second.start({n: next(o[1:] for o in outage if o[0] == n) for n in ids}, before=outage[len(ids):])
        try:
            for i in range(3):
                for node in ids:
                    await second.write(node, 40.0 + i, clock.now())
            held = first.held + second.held
            await eventually(lambda: _true(emitted.has(source, held)), timeout_s=20, interval_s=0.02)
        finally:
            await second.server.stop()
    got = emitted.samples(source)
    per_time = collections.Counter((node, ts) for node, _, ts, _ in got)
    print(f"\n{len(held)} values held by the servers; {len(missed_live)} taken after the old server's last "
          f"publish, {len(outage)} during the outage; {stats.counters['opcua.backfilled']} read back from history")
    assert missed_live == set(last_moments)  # the live subscription did lose these
    assert set(got) == set(held)  # everything, and nothing made up
    assert max(per_time.values()) == 1  # once per source time
    assert stats.counters["opcua.backfilled"] >= len(last_moments) + len(outage)
    assert stats.counters["opcua.gaps"] == 0 and source.gaps == ()


async def test_without_history_the_gap_is_recorded_and_nothing_is_made_up() -> None:
    """No history on the server: each node's outage is one gap from its last value to the resubscription."""
    port, clock = free_port(), Clock()
    plain, claims = "ns=2;s=machine.plain", "ns=2;s=machine.claims"  # the second says HistoryRead, has none
    ids = [plain, claims]
    stats = Stats("t")
    source = source_for(plant(f"opc.tcp://127.0.0.1:{port}", ids), stats)
    emitted = Recorder()
    first = await Machine(port, ids, claim_history=(claims,)).init()
    second = await Machine(port, ids, claim_history=(claims,)).init()
    await first.start({n: (0.0, clock.now(), "Good") for n in ids})
    async with running(source.run(emitted)):
        await eventually(lambda: _true(emitted.has(source, first.held)), timeout_s=10, interval_s=0.01)
        for i in range(3):
            for node in ids:
                await first.write(node, 10.0 + i, clock.now())
        await eventually(lambda: _true(emitted.has(source, first.held)), timeout_s=10, interval_s=0.01)
        last = {node: max(ts for n, _, ts, _ in first.held if n == node) for node in ids}
        await first.server.stop()
        await _sleep(OUTAGE_S)  # the outage
        restarted_at = datetime.now(UTC)
        await second.start({n: (50.0, clock.now(), "Good") for n in ids})
        try:
            await eventually(lambda: _true(emitted.has(source, second.held) and len(source.gaps) == 2),
                             timeout_s=10, interval_s=0.01)
        finally:
            await second.server.stop()
    assert set(emitted.samples(source)) == set(first.held + second.held)  # nothing fabricated for the outage
    assert stats.counters["opcua.gaps"] == 2 and stats.counters["opcua.backfilled"] == 0
    gaps = {g.node: g for g in source.gaps}
    assert {node: g.start for node, g in gaps.items()} == last
    assert all(g.end >= restarted_at for g in gaps.values())
    assert "keeps no history" in gaps[plain].reason
    assert "does not reach back" in gaps[claims].reason


async def _when(condition: Callable[[], bool]) -> float:
    """The monotonic time at which a condition first held (polled every 10 ms)."""
    await eventually(lambda: _true(condition()), timeout_s=10, interval_s=0.01)
    return time.monotonic()


async def _true(value: bool) -> bool:
    return value


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(max(0.0, seconds))


SILENT_SERVER = """
import asyncio, sys
from asyncua import Server, ua

async def main():
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{sys.argv[1]}/")
    ns = await server.register_namespace("urn:test:silent")
    await server.nodes.objects.add_variable(ua.NodeId("x", ns), "x", 1.0)
    async with server:
        print("listening", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_server_that_stops_answering_is_noticed_within_two_seconds() -> None:
    """A frozen server (SIGSTOP: its socket stays open, nothing answers) is noticed by the health probe."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SILENT_SERVER, str(port),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            assert (await proc.stdout.readline()).strip() == b"listening"
        source = source_for(plant(f"opc.tcp://127.0.0.1:{port}", ["ns=2;s=x"]), Stats("t"))
        async with running(source.run(Recorder())):
            await eventually(lambda: _true(source.ready.is_set()), timeout_s=10, interval_s=0.01)
            frozen = time.monotonic()
            proc.send_signal(signal.SIGSTOP)
            noticed_s = await _when(lambda: not source.ready.is_set()) - frozen
            proc.send_signal(signal.SIGCONT)
            thawed = time.monotonic()
            back_s = await _when(source.ready.is_set) - thawed
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        await proc.wait()
    print(f"\nfrozen server noticed after {noticed_s:.3f} s; subscribed again {back_s:.3f} s after it thawed")
    assert noticed_s <= 3.0  # probe every 1 s, 1 s to answer; slack for a loaded machine
    assert back_s <= 1.5
