"""The edge agent: sources → deadband → disk queue → batched QoS 1 publishing, forgotten only when stored.

    OPC UA / MQTT devices ──emit──► memory buffer ──every linger_s──► DiskQueue (SQLite)
                                                                       │ oldest first
    broker ◄── one message per asset topic (boot, seq), ≤ batch_max ───┘
    ingest ──► twin/v1/_sys/edge/{agent}/ack {boot, seqs} ──► delete those rows

A reading is published only from the disk queue and deleted only when ingest says the
message that carried it is in the database (or kept as a dead letter): the end-to-end
acknowledgement, Ignition's store-and-forward guarantee. A broker PUBACK is not enough —
a broker may PUBACK and lose the message (killed before it saved it), or answer 0x10 "no
matching subscribers" after a restart that forgot ingest's shared subscription, which
counts as a failed publish here. A message not acknowledged within `ack_timeout_s`
(doubling per attempt) is published again; a repeat overwrites itself in InfluxDB, whose
point identity is (measurement, tags, time) (DESIGN.md §5–6).

The primary-host gate (Sparkplug B): ingest workers announce themselves, retained, on
`twin/v1/_sys/ingest/{worker}/state` with a last will; while none is online the agent
holds its queue and says so in its status. Device messages are read on a persistent
session and acknowledged to the broker only once their readings are committed to the
disk queue. The agent's status is retained on `twin/v1/_sys/edge/{agent}/status`, with a
last will that marks it offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.deadband import Deadband
from edge_agent.queue import DiskQueue, QueuedItem
from edge_agent.sources.base import Source, SourceContext, SourceFactory
from twin import topics
from twin.backoff import ReconnectPolicy
from twin.deadletter import DeadLetterStore
from twin.errors import PayloadError
from twin.mqtt import MqttClient, MqttError, Will
from twin.plant import BoundSignal, Plant
from twin.plugins import load_ref, registry
from twin.readings import PAYLOAD_VERSION, Reading, load_object
from twin.settings import MqttEndpoint
from twin.stats import Stats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """Tuning of one edge agent."""

    agent_id: str = "edge-1"
    queue_path: Path = Path(".twin/edge-1.queue.sqlite")
    queue_max_items: int = 1_000_000
    batch_max_readings: int = 500
    # Well under what ingest accepts (twin.readings.MAX_PAYLOAD_BYTES, 1 MiB), even with the envelope;
    # one reading is at most a 64 KiB text value, so it always fits.
    batch_max_bytes: int = 256 * 1024
    inflight_max_readings: int = 5000
    linger_s: float = 0.1
    puback_timeout_s: float = 30.0
    # Publish again what ingest has not acknowledged after this long (doubling per attempt, capped):
    # long enough not to duplicate a backlog that ingest is working through.
    ack_timeout_s: float = 30.0
    ack_timeout_max_s: float = 600.0
    status_interval_s: float = 5.0


@dataclass(slots=True)
class _Inflight:
    """A published message waiting for ingest's acknowledgement."""

    ids: list[int]
    deadline: float
    attempts: int


class EdgeAgent:
    """Collects every signal of a plant file and publishes it; `run()` until cancelled."""

    def __init__(self, plant: Plant, *, mqtt_endpoint: MqttEndpoint, mqtt_username: str | None = None,
                 mqtt_password: str | None = None, deadletters: DeadLetterStore | None = None,
                 options: EdgeOptions = EdgeOptions()) -> None:
        self.plant = plant
        self.options = options
        self.stats = Stats(f"edge.{options.agent_id}")
        self._signals = list(plant.signals())
        self._deadband = Deadband(self._signals)
        self._buffer: list[tuple[str, bytes]] = []
        self._buffered = asyncio.Event()
        self._queued = asyncio.Event()
        self._topic_cache: dict[object, str] = {}
        offline = json.dumps({"agent": options.agent_id, "state": "offline"}).encode()
        # Persistent, manually acknowledged: device messages wait in the broker while the
        # agent is away, and are acknowledged only once on disk (sources/mqtt/source.py).
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-{options.agent_id}", username=mqtt_username,
            password=mqtt_password, persistent_session=True, manual_ack=True,
            will=Will(topics.edge_status(options.agent_id), offline),
        )
        # Acknowledgements and ingest states on a connection of their own (QoS 0, clean):
        # they are not device messages, and a lost one is sent again.
        self.control = MqttClient(endpoint=mqtt_endpoint, client_id=f"twin-{options.agent_id}-control",
                                  username=mqtt_username, password=mqtt_password)
        self.boot = secrets.token_hex(4)
        self._seq = 0
        self._inflight: dict[int, _Inflight] = {}
        self._resend: list[int] = []  # row ids whose publish failed or whose ack timed out
        self._attempts: dict[int, int] = {}  # row id → acknowledgements it has waited for in vain
        self._cursor = 0  # highest row id published in this run
        self._ingest_online: dict[str, bool] = {}
        self._primary = asyncio.Event()
        self.deadletters = deadletters if deadletters is not None else DeadLetterStore(None)
        self.sources = self._build_sources()
        self.queue: DiskQueue | None = None

    def _build_sources(self) -> list[Source]:
        """Each source plugin builds the sources for the signals bound to it (twin/plugins.py)."""
        by_source: dict[str, list[BoundSignal]] = defaultdict(list)
        for sig in self._signals:
            by_source[sig.spec.source].append(sig)
        sources: list[Source] = []
        for name, signals in sorted(by_source.items()):
            factory: SourceFactory = load_ref(registry().source(name).edge)
            sources.extend(factory(SourceContext(plant=self.plant, signals=signals, client=self.client,
                                                 stats=self.stats, agent_id=self.options.agent_id,
                                                 deadletters=self.deadletters, commit=self.commit)))
        return sources

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until every source is connected and subscribed."""
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(s.ready.wait() for s in self.sources))

    async def run(self) -> None:
        """Run sources, queue and publisher until cancelled."""
        with DiskQueue(self.options.queue_path, max_items=self.options.queue_max_items) as queue:
            self.queue = queue
            if queue.depth:
                log.info("edge %s: %d readings waiting in the queue from a previous run",
                         self.options.agent_id, queue.depth)
                self._queued.set()
            async with self.client, self.control:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._control_loop(queue), name="acks")
                        for source in self.sources:
                            tg.create_task(source.run(self.emit), name=f"source-{source.name}")
                        tg.create_task(self._flush_loop(queue), name="queue-writer")
                        tg.create_task(self._publish_loop(queue), name="publisher")
                        tg.create_task(self._status_loop(queue), name="status")
                finally:
                    self._flush(queue)
                    await self._publish_status(queue, state="offline")

    def emit(self, reading: Reading) -> None:
        """Accept one reading from a source (sync: called from protocol callbacks)."""
        self.stats.count("readings")
        if not self._deadband.passes(reading):
            self.stats.count("suppressed")
            return
        self.stats.signals[f"{reading.asset}/{reading.signal}"] += 1
        topic = self._topic_cache.get(reading.asset)
        if topic is None:
            topic = self._topic_cache[reading.asset] = topics.asset_topic(reading.asset, "telemetry")
        self._buffer.append((topic, json.dumps(reading.to_json(), separators=(",", ":")).encode()))
        self._buffered.set()

    async def commit(self) -> None:
        """Put what sources emitted so far on disk now (the MQTT devices acknowledge after this)."""
        if self.queue is not None:
            await self._flush_async(self.queue)

    def _flush(self, queue: DiskQueue) -> None:
        """Move the buffer to the disk queue, on the caller's thread (shutdown)."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self._queued_batch(queue, queue.put_many(batch))

    async def _flush_async(self, queue: DiskQueue) -> None:
        """Move the buffer to the disk queue without blocking the event loop."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self._queued_batch(queue, await asyncio.to_thread(queue.put_many, batch))

    def _queued_batch(self, queue: DiskQueue, dropped: int) -> None:
        if dropped:
            self.stats.count("dropped", dropped)
            log.warning("edge %s: queue full, dropped %d oldest readings", self.options.agent_id, dropped)
        self.stats.gauge("queue_depth", queue.depth)
        self._queued.set()

    async def _flush_loop(self, queue: DiskQueue) -> None:
        while True:
            await self._buffered.wait()
            # Linger so one SQLite transaction (and later one message) carries many readings.
            await asyncio.sleep(self.options.linger_s)
            self._buffered.clear()
            await self._flush_async(queue)

    async def _control_loop(self, queue: DiskQueue) -> None:
        """Ingest's acknowledgements (delete what is stored) and states (the primary-host gate)."""
        ack_topic = topics.edge_ack(self.options.agent_id)
        await self.control.subscribe(ack_topic, qos=0, timeout_s=None)
        await self.control.subscribe(topics.ingest_state("+"), qos=0, timeout_s=None)
        while True:
            message = await self.control.messages.get()
            try:
                body = load_object(message.payload, "control message")
            except PayloadError as exc:
                log.warning("edge %s: ignoring a control message on %s: %s", self.options.agent_id, message.topic,
                            exc)
                continue
            if message.topic == ack_topic:
                await self._acknowledged(queue, body)
            else:
                self._ingest_state(message.topic, body)

    async def _acknowledged(self, queue: DiskQueue, body: dict[str, object]) -> None:
        seqs = body.get("seqs")
        if body.get("boot") != self.boot or not isinstance(seqs, list):
            return  # for an earlier run of this agent: those rows are published again anyway
        ids = [i for seq in seqs if type(seq) is int and (f := self._inflight.pop(seq, None)) for i in f.ids]
        for i in ids:
            self._attempts.pop(i, None)
        if ids:
            await asyncio.to_thread(queue.delete, ids)
            self.stats.count("stored", len(ids))
            self.stats.gauge("queue_depth", queue.depth)
            self._queued.set()  # room in the in-flight window

    def _ingest_state(self, topic: str, body: dict[str, object]) -> None:
        worker = topic.split("/")[4]
        self._ingest_online[worker] = body.get("state") == "online"
        if any(self._ingest_online.values()):
            if not self._primary.is_set():
                log.info("edge %s: ingest %s is online; publishing", self.options.agent_id, worker)
            self._primary.set()
            self._queued.set()
        else:
            if self._primary.is_set():
                log.warning("edge %s: no ingest online; holding the queue", self.options.agent_id)
            self._primary.clear()

    @property
    def holding(self) -> bool:
        """True while no ingest is online: the queue is held, not published."""
        return not self._primary.is_set()

    async def _publish_loop(self, queue: DiskQueue) -> None:
        # Like the connection itself: fast retries while a broker restarts, then backoff.
        backoff = ReconnectPolicy(fast_delay_s=0.5, base_s=1.0, cap_s=10.0)
        while True:
            # Woken by new rows, acknowledgements and ingest coming online; every second
            # regardless, to publish again what was not acknowledged in time.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._queued.wait()
            self._queued.clear()
            await self._primary.wait()
            await self.client.wait_connected()
            self._expire(time.monotonic())
            resend, self._resend = self._resend, []
            room = self.options.inflight_max_readings - sum(len(f.ids) for f in self._inflight.values())
            items = await asyncio.to_thread(queue.get, resend) if resend else []
            if room > len(items):
                fresh = await asyncio.to_thread(queue.peek_after, self._cursor, room - len(items))
                if fresh:
                    self._cursor = fresh[-1].id
                items += fresh
            if not items:
                continue
            results = await asyncio.gather(*(self._publish(topic, chunk) for topic, chunk in self._batches(items)),
                                           return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            for r in failed:
                if not isinstance(r, MqttError):
                    raise r
            if failed:
                self.stats.count("publish_failures", len(failed))
                delay = backoff.next_delay()
                log.warning("edge %s: %d publishes failed (%s); retrying in %.1f s", self.options.agent_id,
                            len(failed), failed[0], delay)
                await asyncio.sleep(delay)
            else:
                backoff.reset()
            self._queued.set()

    def _expire(self, now: float) -> None:
        """Messages not acknowledged in time go back to be published again."""
        for seq, flight in list(self._inflight.items()):
            if flight.deadline <= now:
                del self._inflight[seq]
                self._resend.extend(flight.ids)
                for i in flight.ids:
                    self._attempts[i] = flight.attempts + 1
                self.stats.count("republished", len(flight.ids))

    def _batches(self, items: list[QueuedItem]) -> list[tuple[str, list[QueuedItem]]]:
        """One message per asset topic, at most batch_max_readings and batch_max_bytes of readings each."""
        by_topic: dict[str, list[QueuedItem]] = defaultdict(list)
        for item in items:
            by_topic[item.topic].append(item)
        out: list[tuple[str, list[QueuedItem]]] = []
        for topic, group in by_topic.items():
            chunk: list[QueuedItem] = []
            size = 0
            for item in group:
                if chunk and (len(chunk) >= self.options.batch_max_readings
                              or size + len(item.data) > self.options.batch_max_bytes):
                    out.append((topic, chunk))
                    chunk, size = [], 0
                chunk.append(item)
                size += len(item.data) + 1
            out.append((topic, chunk))
        return out

    async def _publish(self, topic: str, chunk: list[QueuedItem]) -> None:
        asset, _ = topics.parse_asset_topic(topic)
        attempts = max(self._attempts.get(i.id, 0) for i in chunk)
        self._seq += 1
        seq = self._seq
        # Readings are stored already encoded; splice them into the envelope without re-parsing.
        head = json.dumps({"v": PAYLOAD_VERSION, "asset": str(asset), "agent": self.options.agent_id,
                           "boot": self.boot, "seq": seq}, separators=(",", ":"))[:-1]
        payload = head.encode() + b',"readings":[' + b",".join(i.data for i in chunk) + b"]}"
        ids = [i.id for i in chunk]
        # Registered before publishing: ingest may acknowledge before the PUBACK arrives.
        timeout_s = min(self.options.ack_timeout_max_s, self.options.ack_timeout_s * 2 ** attempts)
        self._inflight[seq] = _Inflight(ids, time.monotonic() + timeout_s, attempts)
        try:
            await self.client.publish(topic, payload, qos=1, timeout_s=self.options.puback_timeout_s,
                                      require_subscriber=True)
        except MqttError:
            if self._inflight.pop(seq, None) is not None:
                self._resend.extend(ids)
            raise
        self.stats.count("messages")
        self.stats.count("published", len(chunk))

    async def _status_loop(self, queue: DiskQueue) -> None:
        while True:
            try:
                await self._publish_status(queue, state="online")
            except MqttError as exc:
                log.debug("edge status not published: %s", exc)
            await asyncio.sleep(self.options.status_interval_s)

    async def _publish_status(self, queue: DiskQueue, *, state: str) -> None:
        if not self.client.is_connected:
            return
        body = {
            "agent": self.options.agent_id,
            "state": state,
            "ts": datetime.now(UTC).isoformat(),
            "queue_depth": queue.depth,
            "dropped": queue.dropped,
            "published": self.stats.counters["published"],
            "stored": self.stats.counters["stored"],
            "inflight": sum(len(f.ids) for f in self._inflight.values()),
            "holding": self.holding,
            "sources": {s.name: s.ready.is_set() for s in self.sources},
        }
        await self.client.publish(topics.edge_status(self.options.agent_id), json.dumps(body).encode(),
                                  qos=1, retain=True, timeout_s=5)
