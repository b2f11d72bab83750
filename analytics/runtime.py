"""The runtime every streaming analytic shares: telemetry in, points and alert events out.

An analytic implements `Analytic.process(readings) -> Output` (pure, synchronous, no I/O)
and this runner does the I/O around it: a shared MQTT subscription on telemetry (so N
instances split the assets between them, DESIGN.md §8), decoding, writing the output's
line-protocol points to InfluxDB and publishing its alert events. Messages are
acknowledged only after their points are written, as in ingest.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from twin import topics
from twin.backoff import Backoff
from twin.connect import ensure_database, influx_client, mqtt_credentials, mqtt_endpoint
from twin.deadletter import DeadLetter
from twin.errors import PayloadError
from twin.events import AlertEvent
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import MqttClient
from twin.readings import Reading, decode
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
    """Runs one analytic on the telemetry stream; `run()` until cancelled."""

    def __init__(self, analytic: Analytic, *, mqtt_endpoint: MqttEndpoint, influx: InfluxDB,
                 mqtt_username: str | None = None, mqtt_password: str | None = None,
                 instance: str = "1", site: str = "+") -> None:
        self.analytic = analytic
        self.influx = influx
        self.site = site
        self.stats = Stats(f"analytics.{analytic.name}")
        self.ready = asyncio.Event()
        self.client = MqttClient(
            endpoint=mqtt_endpoint, client_id=f"twin-analytics-{analytic.name}-{instance}",
            username=mqtt_username, password=mqtt_password, persistent_session=True, manual_ack=True,
        )
        self._dead = DeadLetter(self.client, topics.deadletter(f"analytics.{analytic.name}"))

    async def run(self) -> None:
        """Consume telemetry, process, write, publish, acknowledge."""
        async with self.client:
            group = f"analytics-{self.analytic.name}"
            await self.client.subscribe(topics.shared(group, topics.subscription("telemetry", self.site)))
            await self.client.wait_connected()
            self.ready.set()
            while True:
                message = await self.client.messages.get()
                batch = [message]
                while not self.client.messages.empty() and len(batch) < 100:
                    batch.append(self.client.messages.get_nowait())
                readings: list[Reading] = []
                for m in batch:
                    try:
                        asset, _ = topics.parse_asset_topic(m.topic)
                        readings.extend(r for r in decode(m.payload, expected_asset=asset) if self.analytic.wants(r))
                    except (PayloadError, ValueError) as exc:
                        self.stats.count("deadletters")
                        await self._dead.send(m, str(exc))
                if readings:
                    output = self.analytic.process(readings)
                    await self._write(output.lines)
                    for event in output.events:
                        await self.client.publish(topics.asset_topic(event.asset, "alerts"), event.encode(),
                                                  qos=1, timeout_s=30)
                    self.stats.count("points", len(output.lines))
                    self.stats.count("events", len(output.events))
                for m in batch:
                    self.client.ack(m)

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
                await asyncio.sleep(backoff.next_delay())


def analytic_runner(settings: Settings, analytic: Analytic, db: InfluxDB, *, instance: str = "1") -> AnalyticRunner:
    """A runner for one streaming analytic (SPC, PdM, energy) writing to `db`."""
    return AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint(settings), influx=db, **mqtt_credentials(settings),
                          instance=instance)


async def run_analytics(settings: Settings, analytics: Sequence[Analytic], *, instance: str = "1") -> None:
    """Run analytics on the live stream until cancelled or SIGTERM (what `twin analytics` and `twin X run` do)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        async with influx_client(settings) as db:
            await ensure_database(db)
            async with asyncio.TaskGroup() as tg:
                for analytic in analytics:
                    tg.create_task(analytic_runner(settings, analytic, db, instance=instance).run(),
                                   name=f"analytics-{analytic.name}")
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
