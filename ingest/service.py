"""Ingest: MQTT telemetry → checked against the plant → batched → InfluxDB `/write`, acknowledged after the write.

Ingest is a `twin.consumer.StreamConsumer` (the one consume → decode → dead-letter →
write → acknowledge loop) with a persistent MQTT session and manual acknowledgements
(paho 2.x `manual_ack_set`): a message is PUBACKed only once InfluxDB has accepted its
points, so if ingest or the database dies, the broker delivers the message again
(DESIGN.md §6). Several workers share the stream through an MQTT v5 shared subscription.

End to end: ingest announces itself on a retained `twin/v1/_sys/ingest/{worker}/state`
(online, with a last will that says offline), the Sparkplug B primary-host idea: edge
agents hold their queues while no ingest is online. Once a batch is handled — its points
in InfluxDB or its messages dead letters — ingest tells each edge agent which of its
messages (`boot`, `seq`) it has, on `twin/v1/_sys/edge/{agent}/ack`; only then does the
agent delete those readings from its disk queue. A broker that PUBACKs and then loses a
message (killed before it saved it, a restart that forgot a subscription) cannot lose data:
the agent publishes again what stays unacknowledged.

Bad input never stops the pipeline: an undecodable payload, a reading of an asset or
signal the plant file does not have, or a batch InfluxDB refuses for good (HTTP 4xx, e.g.
a field type conflict) is narrowed down to the offending message, which is kept as a dead
letter with the reason and then acknowledged. Transient failures (database down, 5xx)
are retried with capped, jittered backoff while the messages stay unacknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.schema import edge_status_line, fast_telemetry_lines, pipeline_line
from twin import decoders, topics
from twin.consumer import ConsumerOptions, Decoded, Item, Retryable, StreamConsumer, Subscription
from twin.deadletter import DeadLetters, DeadLetterStore
from twin.errors import TwinError
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import Message, MqttClient, MqttError, Will
from twin.plant import Plant
from twin.readings import Receipt, peek_receipt
from twin.settings import MqttEndpoint
from twin.stats import Stats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Tuning of one ingest worker."""

    worker_id: str = "ingest-1"
    group: str = "ingest"
    batch_max_messages: int = 100
    linger_s: float = 0.2
    site: str = "+"
    metrics_interval_s: float = 10.0


@dataclass(frozen=True, slots=True)
class _Lines:
    lines: list[str]
    points: int  # telemetry points among the lines (an edge status line is not one)


def _online(worker_id: str, state: str) -> bytes:
    return json.dumps({"worker": worker_id, "state": state, "ts": datetime.now(UTC).isoformat()}).encode()


class Ingest:
    """One ingest worker; `run()` until cancelled."""

    def __init__(self, *, mqtt_endpoint: MqttEndpoint, influx: InfluxDB, plant: Plant | None = None,
                 deadletters: DeadLetterStore | None = None, mqtt_username: str | None = None,
                 mqtt_password: str | None = None, options: IngestOptions = IngestOptions()) -> None:
        self.options = options
        self.influx = influx
        self.stats = Stats(f"ingest.{options.worker_id}")
        self._state_topic = topics.ingest_state(options.worker_id)
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-{options.worker_id}", username=mqtt_username,
            password=mqtt_password, persistent_session=True, manual_ack=True,
            receive_maximum=options.batch_max_messages,
            will=Will(self._state_topic, _online(options.worker_id, "offline")),
        )
        self._telemetry = decoders.telemetry_with_receipt(plant)
        self._receipts: dict[int, Receipt] = {}  # message id → receipt, for the batch being handled
        store = deadletters if deadletters is not None else DeadLetterStore(None)
        dead = DeadLetters(service="ingest", store=store, client=self.client, topic=topics.deadletter("ingest"),
                           stats=self.stats)
        site = options.site
        self.consumer = StreamConsumer(
            name=f"ingest {options.worker_id}", client=self.client, decoder=self._decode, sink=self,
            subscriptions=[Subscription(topics.shared(options.group, topics.subscription("telemetry", site))),
                           Subscription(topics.shared(options.group, topics.edge_status("+")))],
            deadletters=dead, stats=self.stats, handled=self._acknowledge,
            options=ConsumerOptions(batch_max_messages=options.batch_max_messages, linger_s=options.linger_s))
        self.ready = self.consumer.ready

    async def run(self) -> None:
        """Announce, consume, write, acknowledge (to the broker and to the edge agents)."""
        async with self.client:
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self.consumer.run(), name="consume")
                    tg.create_task(self._announce(), name="announce")
                    tg.create_task(self._metrics_loop(), name="self-metrics")
            finally:
                if self.client.is_connected:
                    with contextlib.suppress(MqttError):
                        await self.client.publish(self._state_topic, _online(self.options.worker_id, "offline"),
                                                  qos=1, retain=True, timeout_s=2)

    async def _announce(self) -> None:
        """Say `online` (retained) once subscribed, and again after every reconnect."""
        await self.consumer.ready.wait()
        announced_at = -1
        while True:
            await self.client.wait_connected()
            if self.client.connects != announced_at:
                try:
                    await self.client.publish(self._state_topic, _online(self.options.worker_id, "online"),
                                              qos=1, retain=True, timeout_s=10)
                    announced_at = self.client.connects
                except MqttError as exc:
                    log.warning("ingest: could not announce itself: %s", exc)
            await asyncio.sleep(1.0)

    def _decode(self, message: Message) -> Decoded[_Lines]:
        if decoders.kind_of(message.topic) == decoders.EDGE_STATUS:
            return Decoded(_Lines([edge_status_line(message)], 0))
        decoded = self._telemetry(message)
        readings, receipt = decoded.value if decoded.value is not None else ([], None)
        if receipt is not None:
            self._receipts[message.mid] = receipt
        if not readings:
            return Decoded(None, decoded.rejected)
        for r in readings:
            self.stats.signals[f"{r.asset}/{r.signal}"] += 1
        self.stats.gauge("lag_s", (datetime.now(UTC) - min(r.ts for r in readings)).total_seconds())
        return Decoded(_Lines(fast_telemetry_lines(readings), len(readings)), decoded.rejected)

    async def write(self, items: Sequence[Item[_Lines]]) -> None:
        """Write a batch's points; transient failures are retried by the consumer, refusals dead-lettered."""
        try:
            await self.influx.write([line for item in items for line in item.value.lines])
        except InfluxError as exc:
            if exc.retryable:
                raise Retryable(f"InfluxDB write failed: {exc}") from exc
            raise TwinError(f"InfluxDB refused the points: {exc}") from exc
        self.stats.count("messages", len(items))
        self.stats.count("points", sum(item.value.points for item in items))

    async def _acknowledge(self, batch: Sequence[Message]) -> None:
        """Tell each edge agent which of its messages are handled (stored or kept as dead letters)."""
        by_agent: dict[tuple[str, str], list[int]] = defaultdict(list)
        for message in batch:
            receipt = self._receipts.pop(message.mid, None) or peek_receipt(message.payload)
            if receipt is not None:
                by_agent[(receipt.agent, receipt.boot)].append(receipt.seq)
        for (agent, boot), seqs in by_agent.items():
            body = json.dumps({"boot": boot, "seqs": seqs, "worker": self.options.worker_id}).encode()
            try:
                # At least once: a lost ack makes the agent publish again, which overwrites itself.
                await self.client.publish(topics.edge_ack(agent), body, qos=1, timeout_s=10)
                self.stats.count("edge_acks", len(seqs))
            except MqttError as exc:
                log.warning("ingest: could not acknowledge %d messages to edge %s: %s", len(seqs), agent, exc)

    async def _metrics_loop(self) -> None:
        """Write this worker's own counters to `pipeline`, for the pipeline-health dashboard."""
        while True:
            await asyncio.sleep(self.options.metrics_interval_s)
            c = self.stats.counters
            line = pipeline_line("ingest", self.options.worker_id, datetime.now(UTC), {
                "points_total": float(c["points"]), "messages_total": float(c["messages"]),
                "deadletters_total": float(c["deadletters"]), "write_retries_total": float(c["write_retries"]),
                "lag_s": self.stats.gauges.get("lag_s", 0.0),
            })
            try:
                await self.influx.write([line])
            except InfluxError as exc:
                log.warning("ingest: could not write pipeline metrics: %s", exc)
