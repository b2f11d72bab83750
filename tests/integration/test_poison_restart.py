"""A poison message is handled once: dead-lettered, acknowledged, and not redelivered after a restart.

Ingest, the alert service and the analytics runner on real Mosquitto (persistent sessions,
manual acknowledgements) and InfluxDB; then the stream consumer itself with small test
sinks: a sink bug for one message, and a transient sink failure that is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from analytics.alerts.config import AlertsConfig
from analytics.alerts.service import AlertService
from analytics.runtime import AnalyticRunner
from analytics.spc.service import build_spc
from app.localservers import free_port
from ingest import Ingest, IngestOptions
from tests.helpers import eventually, running
from twin import topics
from twin.consumer import ConsumerOptions, Decoded, Item, Retryable, StreamConsumer, Subscription
from twin.deadletter import DeadLetters, DeadLetterStore
from twin.errors import PayloadError
from twin.events import AlertEvent, EventState, Severity
from twin.influx import InfluxDB, to_ns
from twin.mqtt import Message, MqttClient
from twin.plant import Plant, parse_plant
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint
from twin.stats import Stats
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

CNC = AssetPath("f1", "machining", "line-1", "cnc-01")
GAUGE = AssetPath("f1", "machining", "line-1", "gauge-01")
POISON = b"[" * 100_000
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def plant() -> Plant:
    """A CNC and a gauge whose bore is charted (an individuals chart)."""
    return parse_plant({
        "version": 1, "site": "f1",
        "areas": {"machining": {"lines": {"line-1": {"assets": {
            "cnc-01": {"type": "cnc", "signals": {
                "spindle_load": {"unit": "%", "mqtt": {"topic": "devices/cnc-01", "path": "$.load"}}}},
            "gauge-01": {"type": "gauge", "measures": "cnc-01", "signals": {
                "bore_mm": {"unit": "mm", "mqtt": {"topic": "devices/gauge-01", "path": "$.bore"},
                            "spc": {"chart": "imr", "rules": "we", "lsl": 19.9, "usl": 20.1, "target": 20.0}}}},
        }}}}},
    })


class Service(Protocol):
    """What the three services have in common here."""

    ready: asyncio.Event

    async def run(self) -> None:
        """Run until cancelled."""
        ...


async def poison_then_restart(*, mqtt_endpoint: MqttEndpoint, store: DeadLetterStore, service: str,
                              make: Callable[[], Service], poison_topic: str,
                              good: tuple[str, bytes], arrived: Callable[[Service], Awaitable[bool]]) -> None:
    """Poison one service instance, restart it (same client id, same store), then prove the new one works."""
    async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher:
        await publisher.subscribe(topics.deadletter(service))
        first = make()
        async with running(first.run()) as tasks:
            await asyncio.wait_for(first.ready.wait(), 15)
            await publisher.publish(poison_topic, POISON, qos=1, timeout_s=10)
            # Kept, then announced, then acknowledged: waiting for the announcement (not just the
            # stored row) keeps the stop below from landing between the store and the PUBACK.
            announced = await asyncio.wait_for(publisher.messages.get(), 15)
            assert announced.topic == topics.deadletter(service)
            assert store.count(service=service) == 1
            assert not any(t.done() for t in tasks)
        second = make()
        async with running(second.run()) as tasks:
            await asyncio.wait_for(second.ready.wait(), 15)
            await publisher.publish(*good, qos=1, timeout_s=10)

            async def works() -> bool:
                return await arrived(second)

            await eventually(works, timeout_s=20)
            assert not any(t.done() for t in tasks)
    # A redelivered poison would have reached the new instance before the good message.
    [letter] = store.entries(service=service, include_replayed=True, limit=10)
    assert (letter.service, letter.topic, letter.payload) == (service, poison_topic, POISON)
    assert "nested too deeply" in letter.reason


async def test_ingest_dead_letters_a_poison_message_once_across_a_restart(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    topic = topics.asset_topic(CNC, "telemetry")
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:

        def make() -> Ingest:
            return Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant(), deadletters=store,
                          options=IngestOptions(worker_id="ingest-poison", linger_s=0.02))

        async def stored(_: Service) -> bool:
            rows = await influx.query('SELECT "value" FROM "telemetry" WHERE "signal" = \'spindle_load\'')
            return [v for s in rows for v in s.values] == [[to_ns(T0), 55.5]]

        await poison_then_restart(mqtt_endpoint=mqtt_endpoint, store=store, service="ingest", make=make,
                                  poison_topic=topic,
                                  good=(topic, encode(CNC, [Reading(CNC, "spindle_load", T0, 55.5)], agent="e")),
                                  arrived=stored)


async def test_alert_service_dead_letters_a_poison_event_once_across_a_restart(
        mqtt_endpoint: MqttEndpoint, tmp_path: Path) -> None:
    topic = topics.asset_topic(CNC, "alerts")
    event = AlertEvent(asset=CNC, source="test", kind="k", severity=Severity.WARNING, state=EventState.FIRING,
                       key="test:after-restart", message="after the restart", ts=datetime.now(UTC))
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:

        def make() -> AlertService:
            return AlertService(AlertsConfig(), db_path=tmp_path / "alerts.db", mqtt_endpoint=mqtt_endpoint,
                                plant=plant(), deadletters=store, tick_s=0.2)

        async def alert_open(svc: Service) -> bool:
            manager = svc.manager if isinstance(svc, AlertService) else None
            return manager is not None and [a.key for a in manager.open_alerts] == ["test:after-restart"]

        await poison_then_restart(mqtt_endpoint=mqtt_endpoint, store=store, service="alerts", make=make,
                                  poison_topic=topic, good=(topic, event.encode()), arrived=alert_open)


async def test_analytics_runner_dead_letters_a_poison_message_once_across_a_restart(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    topic = topics.asset_topic(GAUGE, "telemetry")
    parts = [Reading(GAUGE, "bore_mm", T0 + timedelta(seconds=i), 20.0 + ((i % 7) - 3) / 1000) for i in range(30)]
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:

        def make() -> AnalyticRunner:
            spc = build_spc(plant())
            assert spc is not None
            return AnalyticRunner(spc, mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant(),
                                  deadletters=store, instance="poison")

        async def charted(_: Service) -> bool:
            rows = await influx.query('SELECT count("value") FROM "spc" WHERE "characteristic" = \'bore_mm\'')
            # 30 individuals less the 25 of the Phase I baseline.
            return [v[1] for s in rows for v in s.values] == [5]

        await poison_then_restart(mqtt_endpoint=mqtt_endpoint, store=store, service="analytics.spc", make=make,
                                  poison_topic=topic, good=(topic, encode(GAUGE, parts, agent="e")),
                                  arrived=charted)


async def test_ingest_restarted_during_an_influxdb_outage_dead_letters_a_poison_message_once(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    """A poison message in a batch whose good points wait for InfluxDB, then a restart of ingest."""
    topic = topics.asset_topic(CNC, "telemetry")
    good = encode(CNC, [Reading(CNC, "spindle_load", T0, 12.5)], agent="e")
    options = IngestOptions(worker_id="ingest-outage", linger_s=2.0)
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:
        async with InfluxDB(url=f"http://127.0.0.1:{free_port()}", database="down") as down, \
                MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher:
            first = Ingest(mqtt_endpoint=mqtt_endpoint, influx=down, plant=plant(), deadletters=store, options=options)
            async with running(first.run()):
                await asyncio.wait_for(first.ready.wait(), 15)
                await publisher.publish(topic, good, qos=1, timeout_s=10)
                await publisher.publish(topic, POISON, qos=1, timeout_s=10)
                await eventually(lambda: _true(store.count() == 1 and first.stats.counters["write_retries"] >= 1),
                                 timeout_s=15)
            second = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, plant=plant(), deadletters=store,
                            options=options)
            async with running(second.run()):
                await asyncio.wait_for(second.ready.wait(), 15)

                async def stored() -> bool:
                    rows = await influx.query('SELECT "value" FROM "telemetry" WHERE "signal" = \'spindle_load\'')
                    return [v for s in rows for v in s.values] == [[to_ns(T0), 12.5]]

                await eventually(stored, timeout_s=20)
        # The held batch was redelivered after the restart (it was never acknowledged): its good
        # reading is stored now, and its poison must not become a second dead letter.
        assert [(d.topic, d.payload == POISON) for d in store.entries(include_replayed=True)] == [(topic, True)]


# -- the stream consumer with test sinks ---------------------------------------------------

STREAM = "tests/stream"


class RecordingSink:
    """Keeps what it was asked to write; can refuse one payload (a bug) or fail transiently first."""

    def __init__(self, *, bug_on: bytes | None = None, transient_failures: int = 0) -> None:
        self.bug_on = bug_on
        self.transient_failures = transient_failures
        self.calls = 0
        self.batches: list[list[bytes]] = []

    async def write(self, items: Sequence[Item[bytes]]) -> None:
        """Record the batch unless it fails; nothing of a failed batch is recorded."""
        self.calls += 1
        payloads = [item.value for item in items]
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise Retryable("database away")
        if self.bug_on is not None and self.bug_on in payloads:
            raise ValueError(f"cannot handle {self.bug_on!r}")
        self.batches.append(payloads)

    @property
    def written(self) -> list[bytes]:
        """Every payload written, in order."""
        return [p for batch in self.batches for p in batch]


def decode_bytes(message: Message) -> Decoded[bytes]:
    """The payload itself; a payload starting with `poison` is refused."""
    if message.payload.startswith(b"poison"):
        raise PayloadError("poison payload")
    return Decoded(message.payload)


class Consumer:
    """A StreamConsumer over its own persistent, manually acknowledging client, as the services build it."""

    def __init__(self, mqtt_endpoint: MqttEndpoint, store: DeadLetterStore, sink: RecordingSink,
                 **options: Any) -> None:
        self.client = MqttClient(endpoint=mqtt_endpoint, client_id="test-consumer", persistent_session=True,
                                 manual_ack=True)
        self.stats = Stats("test")
        dead = DeadLetters(service="test", store=store, client=self.client, topic=topics.deadletter("test"),
                           stats=self.stats)
        self.consumer = StreamConsumer(
            name="test", client=self.client, subscriptions=[Subscription(f"{STREAM}/#")], decoder=decode_bytes,
            sink=sink, deadletters=dead, stats=self.stats,
            options=ConsumerOptions(retry_base_s=0.1, retry_cap_s=0.2, **options))
        self.ready = self.consumer.ready

    async def run(self) -> None:
        """Consume until cancelled."""
        async with self.client:
            await self.consumer.run()


async def _publish(client: MqttClient, *payloads: bytes) -> None:
    for p in payloads:
        await client.publish(f"{STREAM}/a", p, qos=1, timeout_s=10)


async def test_a_sink_bug_on_one_message_dead_letters_only_that_message_and_the_consumer_carries_on(
        mqtt_endpoint: MqttEndpoint, tmp_path: Path) -> None:
    sink = RecordingSink(bug_on=b"m2")
    first = [f"m{i}".encode() for i in range(5)]
    later = [f"m{i}".encode() for i in range(5, 10)]
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:
        # Five messages a batch, so the refused one comes in a batch with others and is narrowed down.
        consumer = Consumer(mqtt_endpoint, store, sink, batch_max_messages=5, linger_s=5.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(consumer.run()) as tasks:
            await asyncio.wait_for(consumer.ready.wait(), 10)
            await _publish(publisher, *first)
            await eventually(lambda: _true(sink.written == [b"m0", b"m1", b"m3", b"m4"] and store.count() == 1),
                             timeout_s=15)
            await _publish(publisher, *later)
            await eventually(lambda: _true(len(sink.written) == 9), timeout_s=15)
            assert not any(t.done() for t in tasks)
        assert sink.written == [b"m0", b"m1", b"m3", b"m4", *later]
        [letter] = store.entries()
        assert (letter.service, letter.topic, letter.payload) == ("test", f"{STREAM}/a", b"m2")
        assert letter.reason == "ValueError: cannot handle b'm2'"
        assert consumer.stats.counters["poison"] == 1

        # The refused message was acknowledged: a restarted consumer does not get it again.
        again = RecordingSink(bug_on=b"m2")
        restarted = Consumer(mqtt_endpoint, store, again, batch_max_messages=5, linger_s=0.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(restarted.run()):
            await asyncio.wait_for(restarted.ready.wait(), 10)
            await _publish(publisher, b"m10")
            await eventually(lambda: _true(again.written == [b"m10"]), timeout_s=15)
        assert store.count(include_replayed=True) == 1


async def test_a_transient_sink_failure_is_retried_and_the_batch_written_once(
        mqtt_endpoint: MqttEndpoint, tmp_path: Path) -> None:
    sink = RecordingSink(transient_failures=2)
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:
        consumer = Consumer(mqtt_endpoint, store, sink, batch_max_messages=3, linger_s=5.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(consumer.run()) as tasks:
            await asyncio.wait_for(consumer.ready.wait(), 10)
            await _publish(publisher, b"a", b"b", b"c")
            await eventually(lambda: _true(bool(sink.batches)), timeout_s=15)
            assert not any(t.done() for t in tasks)
        assert sink.batches == [[b"a", b"b", b"c"]]
        assert sink.calls == 3
        assert consumer.stats.counters["write_retries"] == 2
        assert consumer.stats.counters["deadletters"] == 0
        assert store.count(include_replayed=True) == 0

        # Written means acknowledged: a restarted consumer gets only what is new.
        again = RecordingSink()
        restarted = Consumer(mqtt_endpoint, store, again, batch_max_messages=3, linger_s=0.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(restarted.run()):
            await asyncio.wait_for(restarted.ready.wait(), 10)
            await _publish(publisher, b"d")
            await eventually(lambda: _true(again.written == [b"d"]), timeout_s=15)


async def test_a_poison_message_held_in_a_batch_by_an_outage_is_dead_lettered_once_across_a_restart(
        mqtt_endpoint: MqttEndpoint, tmp_path: Path) -> None:
    """The database is away, so the batch [good, poison] stays unacknowledged; then the service restarts."""
    with DeadLetterStore(tmp_path / "deadletters.sqlite") as store:
        outage = RecordingSink(transient_failures=1_000_000)
        consumer = Consumer(mqtt_endpoint, store, outage, batch_max_messages=2, linger_s=5.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(consumer.run()):
            await asyncio.wait_for(consumer.ready.wait(), 10)
            await _publish(publisher, b"good", b"poison")
            await eventually(lambda: _true(store.count() == 1 and outage.calls >= 2), timeout_s=15)
        assert outage.written == []

        back = RecordingSink()
        restarted = Consumer(mqtt_endpoint, store, back, batch_max_messages=2, linger_s=0.0)
        async with MqttClient(endpoint=mqtt_endpoint, client_id="publisher") as publisher, \
                running(restarted.run()):
            await asyncio.wait_for(restarted.ready.wait(), 10)
            await _publish(publisher, b"after")
            await eventually(lambda: _true(back.written[-1:] == [b"after"]), timeout_s=15)
        assert back.written == [b"good", b"after"]  # the held message is written once the database is back
        assert [d.payload for d in store.entries(include_replayed=True)] == [b"poison"]


async def _true(value: bool) -> bool:
    return value
