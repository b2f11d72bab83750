"""Ingest: MQTT telemetry → validated → batched → InfluxDB `/write`, acknowledged only after the write.

The consumer uses a persistent MQTT session and manual acknowledgements (paho 2.x
`manual_ack_set`): a message is PUBACKed only once InfluxDB has accepted its points, so
if ingest or the database dies, the broker delivers the message again (DESIGN.md §6).
Several workers can share the stream through an MQTT v5 shared subscription.

Bad input never stops the pipeline: an undecodable payload, or a batch InfluxDB refuses
for good (HTTP 4xx, e.g. a field type conflict), is narrowed down to the offending
message, which goes to the dead-letter topic with the reason and is then acknowledged.
Transient failures (database down, 5xx) are retried with capped, jittered backoff while
the messages stay unacknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.schema import edge_status_line, fast_telemetry_lines, pipeline_line
from twin import topics
from twin.backoff import Backoff
from twin.deadletter import DeadLetter
from twin.errors import PayloadError
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import Message, MqttClient
from twin.readings import decode
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
class _Decoded:
    message: Message
    lines: list[str]
    telemetry: bool = True


class Ingest:
    """One ingest worker; `run()` until cancelled."""

    def __init__(self, *, mqtt_endpoint: MqttEndpoint, influx: InfluxDB, mqtt_username: str | None = None,
                 mqtt_password: str | None = None, options: IngestOptions = IngestOptions()) -> None:
        self.options = options
        self.influx = influx
        self.stats = Stats(f"ingest.{options.worker_id}")
        self.ready = asyncio.Event()
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-{options.worker_id}", username=mqtt_username,
            password=mqtt_password, persistent_session=True, manual_ack=True,
            receive_maximum=options.batch_max_messages,
        )
        self._dead = DeadLetter(self.client, topics.deadletter("ingest"))

    async def run(self) -> None:
        """Consume, write, acknowledge."""
        async with self.client:
            await self.client.subscribe(
                topics.shared(self.options.group, topics.subscription("telemetry", self.options.site)), qos=1)
            await self.client.subscribe(topics.shared(self.options.group, topics.edge_status("+")), qos=1)
            self.ready.set()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._consume(), name="consume")
                tg.create_task(self._metrics_loop(), name="self-metrics")

    async def _consume(self) -> None:
        while True:
            batch = await self._collect()
            await self._handle(batch)

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

    async def _collect(self) -> list[Message]:
        queue = self.client.messages
        batch = [await queue.get()]
        deadline = time.monotonic() + self.options.linger_s
        while len(batch) < self.options.batch_max_messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that races with the result (gh-86296), leaving ingest deaf to shutdown.
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await queue.get())
            except TimeoutError:
                break
        return batch

    async def _handle(self, batch: list[Message]) -> None:
        decoded: list[_Decoded] = []
        for message in batch:
            if message.topic.startswith(f"{topics.SYS}/edge/"):
                try:
                    decoded.append(_Decoded(message, [edge_status_line(message)], telemetry=False))
                except PayloadError as exc:
                    await self._reject(message, str(exc))
                continue
            try:
                asset, _kind = topics.parse_asset_topic(message.topic)
                readings = decode(message.payload, expected_asset=asset)
            except (PayloadError, ValueError) as exc:
                await self._reject(message, str(exc))
                continue
            now = datetime.now(UTC)
            for r in readings:
                self.stats.signals[f"{r.asset}/{r.signal}"] += 1
            lag_s = (now - min(r.ts for r in readings)).total_seconds()
            self.stats.gauge("lag_s", lag_s)
            decoded.append(_Decoded(message, fast_telemetry_lines(readings)))
        if decoded:
            await self._write(decoded)
        # PUBACK in the order the messages arrived (MQTT 5.0 §4.6), only now that each
        # one is either in the database or on the dead-letter topic.
        for message in batch:
            self.client.ack(message)

    async def _write(self, decoded: list[_Decoded]) -> None:
        backoff = Backoff(base_s=0.5, cap_s=30)
        while True:
            try:
                await self.influx.write([line for d in decoded for line in d.lines])
            except InfluxError as exc:
                if exc.retryable:
                    self.stats.count("write_retries")
                    delay = backoff.next_delay()
                    log.warning("ingest: InfluxDB write failed (%s); retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    continue
                if len(decoded) > 1:
                    # Refused for good: find the guilty message(s) one by one, write the rest.
                    for d in decoded:
                        await self._write([d])
                    return
                await self._reject(decoded[0].message, f"InfluxDB refused the points: {exc}")
                return
            self.stats.count("messages", len(decoded))
            self.stats.count("points", sum(len(d.lines) for d in decoded if d.telemetry))
            return

    async def _reject(self, message: Message, reason: str) -> None:
        self.stats.count("deadletters")
        await self._dead.send(message, reason)
