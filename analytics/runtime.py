"""The runtime every streaming analytic shares: telemetry in, points and alert events out.

An analytic implements `Analytic.process(readings) -> Output` (pure, synchronous, no I/O)
and this runner does the I/O around it with the one stream consumer (twin/consumer.py):
a shared MQTT subscription on telemetry, decoding checked against the plant, writing the
output's line-protocol points to InfluxDB and publishing its alert events. Messages are
acknowledged only after their points are written, as in ingest.

State that survives a restart (kill -9 included): an analytic that is also `Checkpointed`
is restored from its last snapshot when the runner starts (`analytics/state.py`), and after
every batch the runner saves a new snapshot — after the batch's points are written and its
events published, before the broker is acknowledged. A crash anywhere in between is safe:

- before the snapshot: the broker redelivers the batch and the analytic, restored to the
  state before it, processes it again — the same points at the same times and tags,
  which InfluxDB overwrites; events are sent again (at least once, like every event);
- after the snapshot, before the acknowledgement: the batch is redelivered to a state that
  already holds it, and every analytic ignores readings at or before the last source time
  it used for that signal, so nothing is counted twice.

Points are written *before* the snapshot on purpose: the other order would lose the
points of a batch whose snapshot was saved just before a crash (the redelivery is then
ignored as already processed, and nobody writes its points).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from analytics.state import SnapshotError, StateStore, StateStoreError, state_path
from twin import decoders, topics
from twin.backoff import retry_until_done
from twin.connect import ensure_database, influx_client, mqtt_credentials, mqtt_endpoint
from twin.consumer import ConsumerOptions, Decoded, Item, StreamConsumer, Subscription
from twin.deadletter import DeadLetters, DeadLetterStore, store_path
from twin.events import AlertEvent
from twin.filelock import ExclusiveLock
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import Message, MqttClient, MqttError
from twin.plant import Plant
from twin.readings import Reading
from twin.settings import MqttEndpoint, Settings
from twin.stats import Stats

log = logging.getLogger(__name__)

ANALYTICS_LINGER_S = 0.5


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


@runtime_checkable
class Checkpointed(Protocol):
    """An analytic whose state survives a restart: `AnalyticRunner` restores it and checkpoints it after each batch.

    `snapshot()` is the whole state as bytes (`analytics.state.encode_snapshot`: versioned);
    `restore(data)` puts it back into an analytic built from the current plant file, taking
    what still fits it. `restore` raises `analytics.state.SnapshotError` for data it cannot
    use and must then leave the analytic as it was (the runner starts it fresh). Both run in
    a worker thread, never at the same time as `process`.
    """

    def snapshot(self) -> bytes:
        """The analytic's state, versioned."""
        ...

    def restore(self, data: bytes) -> None:
        """Continue from a snapshot; SnapshotError (analytic unchanged) when it does not fit."""
        ...


class AnalyticRunner:
    """Runs one analytic on the telemetry stream (a `twin.consumer.StreamConsumer`); `run()` until cancelled.

    The analytic's `process` runs in a worker thread (`asyncio.to_thread`), so model loading
    and heavy arithmetic never stall the event loop; it sees one batch at a time, in order.
    Once a batch is processed its results are written and published with retries for as
    long as the database or broker is away: processing again would count the same
    readings twice, so only the I/O is repeated.

    With `state_path` (an `analytics.state.StateStore` file) and a `Checkpointed` analytic,
    the state is restored at start and saved after each batch, before the acknowledgement
    (module docstring); a snapshot that cannot be restored is logged and the analytic starts
    fresh. Snapshots are keyed by the analytic's name and `instance`.
    """

    def __init__(self, analytic: Analytic, *, mqtt_endpoint: MqttEndpoint, influx: InfluxDB,
                 plant: Plant | None = None, deadletters: DeadLetterStore | None = None,
                 mqtt_username: str | None = None, mqtt_password: str | None = None,
                 instance: str = "1", site: str = "+", state_path: Path | None = None) -> None:
        self.analytic = analytic
        self.influx = influx
        self.site = site
        self.instance = instance
        self.state_path = state_path
        self._state: StateStore | None = None
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
            subscriptions=[Subscription(topics.shared(group, topics.subscription("telemetry", site)))],
            # Linger for bigger batches: each batch is checkpointed before it is acknowledged,
            # and a PdM snapshot is hundreds of KiB (analytics/state.py), so a few a second.
            options=ConsumerOptions(batch_max_messages=100, linger_s=ANALYTICS_LINGER_S))
        self.ready = self.consumer.ready

    async def run(self) -> None:
        """Restore the analytic's checkpoint (if any), then consume telemetry, process, write, publish, acknowledge."""
        if self.state_path is None or not isinstance(self.analytic, Checkpointed):
            async with self.client:
                await self.consumer.run()
            return
        # One process per analytic and instance: two would overwrite each other's checkpoints.
        name = f"{self.state_path.name}.{self.analytic.name}.{self.instance}.lock"
        lock = ExclusiveLock(self.state_path.with_name(name),
                             what=f"the checkpoint of {self.analytic.name} instance {self.instance!r}",
                             hint="give each analytics process its own --instance")
        lock.acquire()
        try:
            store = await asyncio.to_thread(StateStore, self.state_path)
        except BaseException:
            lock.release()
            raise
        try:
            await asyncio.to_thread(self._restore, store, self.analytic)
            self._state = store
            async with self.client:
                await self.consumer.run()
        finally:
            self._state = None
            store.close()
            lock.release()

    def _restore(self, store: StateStore, analytic: Checkpointed) -> None:
        name = self.analytic.name
        data = store.load(name, self.instance)
        if data is None:
            log.info("analytics %s (instance %s): no checkpoint in %s, starting fresh", name, self.instance,
                     store.path)
            return
        try:
            analytic.restore(data)
        except SnapshotError as exc:
            log.warning("analytics %s (instance %s): checkpoint not restored, starting fresh: %s", name,
                        self.instance, exc)
            self.stats.count("checkpoint_refused")
            return
        except Exception:  # a bug in restore must not keep the service down: fresh state, loudly
            log.exception("analytics %s (instance %s): restoring the checkpoint failed, starting fresh", name,
                          self.instance)
            self.stats.count("checkpoint_refused")
            return
        log.info("analytics %s (instance %s): resumed from its checkpoint (%d bytes)", name, self.instance,
                 len(data))
        self.stats.count("checkpoint_restored")

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
        await self._checkpoint()
        self.stats.count("points", len(output.lines))
        self.stats.count("events", len(output.events))

    async def _checkpoint(self) -> None:
        """Save the state after a batch, before it is acknowledged; wait out a failing disk."""
        store, analytic = self._state, self.analytic
        if store is None or not isinstance(analytic, Checkpointed):
            return
        try:
            data = await asyncio.to_thread(analytic.snapshot)
        except Exception:
            # A bug in snapshot(): raising here would make the consumer process the batch
            # again message by message (counting it twice). Run on, unpersisted, loudly.
            log.exception("analytics %s: snapshot failed; this batch is not checkpointed", analytic.name)
            self.stats.count("checkpoint_errors")
            return
        def retry(exc: BaseException, delay: float) -> None:
            # Acknowledging without the checkpoint would let a crash lose these readings
            # from the state for good: hold the batch until the disk takes it.
            self.stats.count("checkpoint_retries")
            log.warning("analytics %s: checkpoint not saved (%s); retrying in %.1f s", analytic.name, exc, delay)

        await retry_until_done(lambda: asyncio.to_thread(store.save, analytic.name, self.instance, data),
                               retry_on=StateStoreError, on_retry=retry)
        self.stats.count("checkpoints")
        self.stats.gauge("checkpoint_bytes", len(data))

    async def _write(self, lines: list[str]) -> None:
        if not lines:
            return

        async def write() -> None:
            try:
                await self.influx.write(lines)
            except InfluxError as exc:
                if exc.retryable:
                    raise
                # Our own points refused: a bug, not bad input; log loudly and move on.
                log.error("analytics %s: InfluxDB refused results: %s", self.analytic.name, exc)
                self.stats.count("write_errors")

        def retry(exc: BaseException, delay: float) -> None:
            self.stats.count("write_retries")

        await retry_until_done(write, retry_on=InfluxError, on_retry=retry)

    async def _publish(self, event: AlertEvent) -> None:
        def retry(exc: BaseException, delay: float) -> None:
            self.stats.count("publish_retries")
            log.warning("analytics %s: alert event not published (%s); retrying in %.1f s",
                        self.analytic.name, exc, delay)

        await retry_until_done(lambda: self.client.publish(topics.asset_topic(event.asset, "alerts"),
                                                           event.encode(), qos=1, timeout_s=30),
                               retry_on=MqttError, on_retry=retry)


def analytic_runner(settings: Settings, plant: Plant, analytic: Analytic, db: InfluxDB, *,
                    deadletters: DeadLetterStore, instance: str = "1") -> AnalyticRunner:
    """A runner for one streaming analytic (SPC, PdM, energy) writing to `db`, checkpointed under the state folder."""
    return AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint(settings), influx=db, plant=plant,
                          deadletters=deadletters, **mqtt_credentials(settings), instance=instance,
                          state_path=state_path(settings.state_dir))


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
