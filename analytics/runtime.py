"""The runtime every streaming analytic shares: telemetry in, points and alert events out.

An analytic implements `Analytic.process(readings) -> Output` (pure, synchronous, no I/O)
and this runner does the I/O around it with the one stream consumer (twin/consumer.py):
a shared MQTT subscription on telemetry, decoding checked against the plant, writing the
output's line-protocol points to InfluxDB and publishing its alert events. Messages are
acknowledged only after their points are written, as in ingest.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from twin import decoders, topics
from twin.backoff import Backoff
from twin.connect import ensure_database, influx_client, mqtt_credentials, mqtt_endpoint
from twin.consumer import Decoded, Item, StreamConsumer, Subscription
from twin.deadletter import DeadLetters, DeadLetterStore, store_path
from twin.events import AlertEvent
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import Message, MqttClient, MqttError
from twin.plant import Plant
from twin.readings import Reading
from twin.settings import MqttEndpoint, Settings
from twin.stats import Stats

log = logging.getLogger(__name__)


@dataclass
class Output:
    """What an analytic produced from a batch: points (line protocol) and alert events."""

    lines: list[str] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        """Append another output."""
        self.lines.extend(other.lines)
        self.events.extend(other.events)


class Analytic(Protocol):
    """A streaming analytic: state inside, no I/O."""

    name: str

    def wants(self, reading: Reading) -> bool:
        """True for readings this analytic uses (cheap: called for every reading)."""
        ...

    def process(self, readings: Sequence[Reading]) -> Output:
        """Update state with readings (in arrival order) and return what to write and publish."""
        ...


class AnalyticRunner:
    """Runs one analytic on the telemetry stream (a `twin.consumer.StreamConsumer`); `run()` until cancelled.

    The analytic's `process` runs in a worker thread (`asyncio.to_thread`), so model loading
    and heavy arithmetic never stall the event loop; it sees one batch at a time, in order.
    Once a batch is processed its results are written and published with retries for as
    long as the database or broker is away: processing again would count the same
    readings twice, so only the I/O is repeated.
    """

    def __init__(self, analytic: Analytic, *, mqtt_endpoint: MqttEndpoint, influx: InfluxDB,
                 plant: Plant | None = None, deadletters: DeadLetterStore | None = None,
                 mqtt_username: str | None = None, mqtt_password: str | None = None,
                 instance: str = "1", site: str = "+") -> None:
        self.analytic = analytic
        self.influx = influx
        self.site = site
        self.stats = Stats(f"analytics.{analytic.name}")
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-analytics-{analytic.name}-{instance}",
            username=mqtt_username, password=mqtt_password, persistent_session=True, manual_ack=True,
        )
        service = f"analytics.{analytic.name}"
        dead = DeadLetters(service=service, store=deadletters if deadletters is not None else DeadLetterStore(None),
                           client=self.client, topic=topics.deadletter(service), stats=self.stats)
        self._telemetry = decoders.telemetry(plant)
        group = f"analytics-{analytic.name}"
        self.consumer = StreamConsumer(
            name=service, client=self.client, decoder=self._decode, sink=self, deadletters=dead, stats=self.stats,
            subscriptions=[Subscription(topics.shared(group, topics.subscription("telemetry", site)))])
        self.ready = self.consumer.ready

    async def run(self) -> None:
        """Consume telemetry, process, write, publish, acknowledge."""
        async with self.client:
            await self.consumer.run()

    def _decode(self, message: Message) -> Decoded[list[Reading]]:
        decoded = self._telemetry(message)
        wanted = [r for r in decoded.value or () if self.analytic.wants(r)]
        return Decoded(wanted or None, decoded.rejected)

    async def write(self, items: Sequence[Item[list[Reading]]]) -> None:
        """Process a batch's readings, then write the points and publish the events (retrying until done)."""
        readings = [r for item in items for r in item.value]
        output = await asyncio.to_thread(self.analytic.process, readings)
        await self._write(output.lines)
        for event in output.events:
            await self._publish(event)
        self.stats.count("points", len(output.lines))
        self.stats.count("events", len(output.events))

    async def _write(self, lines: list[str]) -> None:
        backoff = Backoff(base_s=0.5, cap_s=30)
        while lines:
            try:
                await self.influx.write(lines)
                return
            except InfluxError as exc:
                if not exc.retryable:
                    # Our own points refused: a bug, not bad input; log loudly and move on.
                    log.error("analytics %s: InfluxDB refused results: %s", self.analytic.name, exc)
                    self.stats.count("write_errors")
                    return
                self.stats.count("write_retries")
                await asyncio.sleep(backoff.next_delay())

    async def _publish(self, event: AlertEvent) -> None:
        backoff = Backoff(base_s=0.5, cap_s=30)
        while True:
            try:
                await self.client.publish(topics.asset_topic(event.asset, "alerts"), event.encode(), qos=1,
                                          timeout_s=30)
                return
            except MqttError as exc:
                self.stats.count("publish_retries")
                delay = backoff.next_delay()
                log.warning("analytics %s: alert event not published (%s); retrying in %.1f s",
                            self.analytic.name, exc, delay)
                await asyncio.sleep(delay)


def analytic_runner(settings: Settings, plant: Plant, analytic: Analytic, db: InfluxDB, *,
                    deadletters: DeadLetterStore, instance: str = "1") -> AnalyticRunner:
    """A runner for one streaming analytic (SPC, PdM, energy) writing to `db`."""
    return AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint(settings), influx=db, plant=plant,
                          deadletters=deadletters, **mqtt_credentials(settings), instance=instance)


async def run_analytics(settings: Settings, plant: Plant, analytics: Sequence[Analytic], *,
                        instance: str = "1") -> None:
    """Run analytics on the live stream until cancelled or SIGTERM (what `twin analytics` and `twin X run` do)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        with DeadLetterStore(store_path(settings.state_dir)) as dead:
            async with influx_client(settings) as db:
                await ensure_database(db)
                async with asyncio.TaskGroup() as tg:
                    for analytic in analytics:
                        runner = analytic_runner(settings, plant, analytic, db, deadletters=dead, instance=instance)
                        tg.create_task(runner.run(), name=f"analytics-{analytic.name}")
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
