"""The edge agent: sources → deadband → disk queue → batched QoS 1 publishing.

    OPC UA / MQTT devices ──emit──► memory buffer ──every linger_s──► DiskQueue (SQLite)
                                                                       │ oldest first
    broker ◄── one message per asset topic, up to batch_max readings ──┘ delete on PUBACK

A reading is published only from the disk queue and deleted only after the broker's
PUBACK, so an outage or a crash of the agent does not lose what reached the queue; a
reading may be published twice after a crash, which InfluxDB's (measurement, tags, time)
identity turns into an overwrite (DESIGN.md §5–6). The agent's status is retained on
`twin/v1/_sys/edge/{agent}/status`, with a last will that marks it offline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.deadband import Deadband
from edge_agent.queue import DiskQueue, QueuedItem
from edge_agent.sources.base import Source, SourceContext, SourceFactory
from twin import topics
from twin.backoff import Backoff
from twin.deadletter import DeadLetterStore
from twin.mqtt import MqttClient, MqttError, Will
from twin.plant import BoundSignal, Plant
from twin.plugins import load_ref, registry
from twin.readings import PAYLOAD_VERSION, Reading
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
    status_interval_s: float = 5.0


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
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-{options.agent_id}", username=mqtt_username,
            password=mqtt_password, persistent_session=False,
            will=Will(topics.edge_status(options.agent_id), offline),
        )
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
                                                 deadletters=self.deadletters)))
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
            async with self.client:
                try:
                    async with asyncio.TaskGroup() as tg:
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

    async def _publish_loop(self, queue: DiskQueue) -> None:
        backoff = Backoff(base_s=0.2, cap_s=10)
        while True:
            await self._queued.wait()
            items = await asyncio.to_thread(queue.peek, self.options.inflight_max_readings)
            if not items:
                self._queued.clear()
                continue
            try:
                await self.client.wait_connected()
                await asyncio.gather(*(self._publish(topic, chunk) for topic, chunk in self._batches(items)))
            except MqttError as exc:
                self.stats.count("publish_failures")
                delay = backoff.next_delay()
                log.warning("edge %s: publish failed (%s); retrying in %.1f s", self.options.agent_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            await asyncio.to_thread(queue.delete, [i.id for i in items])
            self.stats.count("published", len(items))
            self.stats.gauge("queue_depth", queue.depth)

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
        # Readings are stored already encoded; splice them into the envelope without re-parsing.
        head = json.dumps({"v": PAYLOAD_VERSION, "asset": str(asset), "agent": self.options.agent_id},
                          separators=(",", ":"))[:-1]
        payload = head.encode() + b',"readings":[' + b",".join(i.data for i in chunk) + b"]}"
        await self.client.publish(topic, payload, qos=1, timeout_s=self.options.puback_timeout_s)
        self.stats.count("messages")

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
            "sources": {s.name: s.ready.is_set() for s in self.sources},
        }
        await self.client.publish(topics.edge_status(self.options.agent_id), json.dumps(body).encode(),
                                  qos=1, retain=True, timeout_s=5)
