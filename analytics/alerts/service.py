"""The alert service: MQTT in, the lifecycle engine, deliveries, InfluxDB annotations and the HTTP API.

`AlertService.run()` is one asyncio.TaskGroup (so it runs on its own under `twin alerts
serve` and inside `twin demo`'s TaskGroup alike):

- consume: alert events (`twin/v1/+/+/+/+/alerts`), edge-agent status, and telemetry
  when threshold rules or stale-data checks need it. Alert events are acknowledged
  to the broker only after the manager committed them to SQLite (persistent session,
  manual acks), so a crash re-delivers instead of losing an alert.
- clock: hold times, first notifications, escalation, stale checks, every `tick_s`.
- deliver: sends the outbox through the notifier, retrying with capped exponential
  backoff; every attempt is logged in the outbox row.
- annotate: writes each lifecycle transition to InfluxDB (measurement `alerts`).
- companions: what the composition root runs beside the manager in the same loop and
  TaskGroup (the HTTP API, `api.server.serve_api`), so they see the same live state.

One instance per site: the state lives in one SQLite file (DESIGN.md §8 partitions
stateful analytics; for alerts the partition is the site, via `site=`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from analytics.alerts.annotations import Annotations
from analytics.alerts.config import AlertsConfig
from analytics.alerts.errors import AlertNotFound, DeliveryError
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import Delivery
from analytics.alerts.notify import AppriseNotifier, Notification, Notifier
from analytics.alerts.sources import ConnectivityWatcher, ThresholdRules
from analytics.alerts.store import AlertStore
from twin import decoders, topics
from twin.backoff import Backoff
from twin.consumer import Decoded, Item, Retryable, StreamConsumer, Subscription
from twin.deadletter import DeadLetters, DeadLetterStore
from twin.errors import PayloadError
from twin.events import AlertEvent
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import Message, MqttClient
from twin.plant import Plant
from twin.settings import MqttEndpoint

log = logging.getLogger(__name__)

MAX_DELIVERY_BACKOFF_S = 300.0
MAX_PARALLEL_DELIVERIES = 16


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Companion(Protocol):
    """Something that runs beside the alert manager, e.g. the HTTP API.

    `start` is awaited inside the service's TaskGroup once the manager exists; it starts
    its own tasks in `tg` and returns when it is ready to serve.
    """

    async def start(self, manager: AlertManager, tg: asyncio.TaskGroup) -> None:
        """Start serving with this manager; return once ready."""
        ...


@dataclass
class ServiceStats:
    """Counters for status displays (twin demo)."""

    events: int = 0
    unknown_readings: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    annotations: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class AlertService:
    """The alert manager as a service: `await run()` until cancelled."""

    def __init__(self, config: AlertsConfig, *, db_path: Path, mqtt_endpoint: MqttEndpoint | None = None,
                 mqtt_username: str | None = None, mqtt_password: str | None = None,
                 influx: InfluxDB | None = None, notifier: Notifier | None = None,
                 companions: Sequence[Companion] = (),
                 plant: Plant | None = None, deadletters: DeadLetterStore | None = None,
                 site: str = "+", instance: str = "1", tick_s: float = 0.25,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.config = config
        self.db_path = db_path
        self.mqtt_endpoint = mqtt_endpoint
        self.influx = influx
        self.notifier: Notifier = notifier or AppriseNotifier()
        self.companions = list(companions)
        self.site = site
        self.tick_s = tick_s
        self.clock = clock
        self.stats = ServiceStats()
        self.ready = asyncio.Event()
        self.manager: AlertManager | None = None
        self.client: MqttClient | None = None
        self.consumer: StreamConsumer[list[AlertEvent]] | None = None
        self._telemetry = decoders.telemetry(plant)
        self._alert_events = decoders.alert_events(plant)
        if mqtt_endpoint is not None:
            client_id = f"twin-alerts-{site.strip('+') or 'all'}-{instance}"
            self.client = MqttClient(endpoint=mqtt_endpoint, client_id=client_id,
                                     username=mqtt_username, password=mqtt_password, persistent_session=True,
                                     manual_ack=True)
            dead = DeadLetters(service="alerts", store=deadletters if deadletters is not None
                               else DeadLetterStore(None), client=self.client, topic=topics.deadletter("alerts"))
            self.consumer = StreamConsumer(name="alerts", client=self.client, subscriptions=self._subscriptions(),
                                           decoder=self._decode, sink=self, deadletters=dead, stats=dead.stats)
        self.thresholds = ThresholdRules(list(config.rules))
        self.connectivity = ConnectivityWatcher(config.connectivity)
        self._deliver_wake = asyncio.Event()
        self._annotate_wake = asyncio.Event()
        self._inflight: set[int] = set()
        self._delivery_slots = asyncio.Semaphore(MAX_PARALLEL_DELIVERIES)

    def _kick(self) -> None:
        self._deliver_wake.set()
        self._annotate_wake.set()

    async def run(self) -> None:
        """Run every part until cancelled; state is in SQLite, so a restart continues where this stopped."""
        with AlertStore(self.db_path) as store:
            manager = AlertManager(store, self.config, clock=self.clock, on_change=self._kick)
            self.manager = manager
            log.info("alerts: %d open alerts from %s", len(manager.open_alerts), self.db_path)
            async with contextlib.AsyncExitStack() as stack:
                if self.client is not None:
                    await stack.enter_async_context(self.client)
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._clock_loop(manager), name="alerts-clock")
                    tg.create_task(self._delivery_loop(manager, tg), name="alerts-deliver")
                    if self.influx is not None:
                        tg.create_task(self._annotation_loop(manager), name="alerts-annotate")
                    if self.consumer is not None:
                        tg.create_task(self.consumer.run(), name="alerts-consume")
                        await self.consumer.ready.wait()
                    for companion in self.companions:
                        await companion.start(manager, tg)
                    self.ready.set()
                    log.info("alerts: service ready")

    # -- MQTT ------------------------------------------------------------------------------

    def _subscriptions(self) -> list[Subscription]:
        subs = [Subscription(topics.subscription("alerts", self.site), qos=1)]
        if self.config.connectivity.edge_agents:
            subs.append(Subscription(topics.edge_status("+"), qos=1))
        if self.config.rules or self.config.connectivity.data_stale_after_s is not None:
            # QoS 0: the thresholds and freshness need current values, not a backlog
            # replayed after downtime, so telemetry is not queued in our session.
            subs.append(Subscription(topics.subscription("telemetry", self.site), qos=0))
        return subs

    def _decode(self, message: Message) -> Decoded[list[AlertEvent]]:
        """Alert events, edge status and telemetry → the events they mean for the manager."""
        now = self.clock()
        kind = decoders.kind_of(message.topic)
        if kind == decoders.EDGE_STATUS:
            events = self.connectivity.on_status(message.topic.split("/")[4], message.payload, now)
        elif kind == "alerts":
            event = self._alert_events(message).value
            events = [event] if event is not None else []
        elif kind == "telemetry":
            decoded = self._telemetry(message)
            # Readings the plant lacks are ingest's dead letters (the system of record); here they are skipped.
            self.stats.unknown_readings += len(decoded.rejected)
            readings = decoded.value or []
            events = list(self.connectivity.on_telemetry(decoders.asset_of(message.topic, None), now)) \
                if readings else []
            for reading in readings:
                if self.thresholds.wants(reading):
                    events.extend(self.thresholds.update(reading))
        else:
            raise PayloadError(f"the alert service does not read {kind} topics")
        return Decoded(events or None)

    async def write(self, items: Sequence[Item[list[AlertEvent]]]) -> None:
        """Commit the events to the manager (SQLite); the consumer acknowledges them after this."""
        if self.manager is None:
            raise Retryable("the alert manager is not running yet")
        for item in items:
            for event in item.value:
                self.manager.ingest(event)
                self.stats.events += 1

    # -- clock -----------------------------------------------------------------------------

    async def _clock_loop(self, manager: AlertManager) -> None:
        while True:
            now = self.clock()
            for event in self.connectivity.check(now):
                manager.ingest(event)
            manager.tick(now)
            await asyncio.sleep(self.tick_s)

    # -- deliveries ------------------------------------------------------------------------

    async def _delivery_loop(self, manager: AlertManager, tg: asyncio.TaskGroup) -> None:
        while True:
            self._deliver_wake.clear()
            for d in manager.store.due_deliveries(self.clock()):
                if d.id not in self._inflight:
                    self._inflight.add(d.id)
                    tg.create_task(self._deliver(manager, d), name=f"alerts-delivery-{d.id}")
            # Woken at once by new outbox rows; the timeout picks up retries that fall due.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(1.0, self.tick_s * 4)):
                    await self._deliver_wake.wait()

    async def _deliver(self, manager: AlertManager, d: Delivery) -> None:
        try:
            async with self._delivery_slots:
                channel = manager.config.channels.get(d.channel)
                try:
                    alert = manager.get(d.alert_id)
                    if channel is None:
                        raise DeliveryError(f"channel {d.channel!r} is no longer configured")
                    await self.notifier.send(d.channel, channel, Notification(alert, d.event))
                except (DeliveryError, AlertNotFound, OSError) as exc:
                    self._failed(manager, d, str(exc))
                    return
                except Exception as exc:  # a notifier plug-in bug must not stop the other deliveries
                    log.exception("alerts: notifier crashed on delivery %d", d.id)
                    self._failed(manager, d, f"{type(exc).__name__}: {exc}")
                    return
                manager.store.delivery_done(d.id, self.clock())
                self.stats.delivered += 1
                self.stats.by_channel[d.channel] = self.stats.by_channel.get(d.channel, 0) + 1
                log.info("alerts: alert %d %s notification delivered to %s", d.alert_id, d.event, d.channel)
        finally:
            self._inflight.discard(d.id)

    def _failed(self, manager: AlertManager, d: Delivery, error: str) -> None:
        self.stats.delivery_failures += 1
        attempt = d.attempts + 1
        if attempt >= self.config.delivery_attempts:
            manager.store.delivery_failed(d.id, error, None)
            log.error("alerts: giving up on %s notification of alert %d to %s after %d attempts: %s",
                      d.event, d.alert_id, d.channel, attempt, error)
            return
        # Exponential with jitter (0.5x-1x), capped; the outbox row holds the due time, so
        # the schedule survives a restart.
        delay = min(MAX_DELIVERY_BACKOFF_S, self.config.delivery_backoff_s * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)
        manager.store.delivery_failed(d.id, error, self.clock() + timedelta(seconds=delay))
        log.warning("alerts: %s notification of alert %d to %s failed (attempt %d), retry in %.1f s: %s",
                    d.event, d.alert_id, d.channel, attempt, delay, error)

    # -- annotations -----------------------------------------------------------------------

    async def _annotation_loop(self, manager: AlertManager) -> None:
        backoff = Backoff(base_s=0.5, cap_s=30)
        annotations = Annotations()
        pending: list[str] = []
        try:
            while True:
                self._annotate_wake.clear()
                while manager.transitions:
                    pending.append(annotations.line(manager.transitions.popleft()))
                if pending:
                    if await self._write_annotations(pending):
                        backoff.reset()
                        pending = []
                    else:
                        await asyncio.sleep(backoff.next_delay())
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self._annotate_wake.wait()
        except asyncio.CancelledError:
            # Shutting down: one last, short attempt, so the final transitions reach the charts.
            pending.extend(annotations.line(t) for t in manager.transitions)
            if pending:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2):
                        await asyncio.shield(self._write_annotations(pending))
            raise

    async def _write_annotations(self, lines: list[str]) -> bool:
        """Write; True when done (written, or refused for good), False to retry later."""
        if self.influx is None:
            return True
        try:
            await self.influx.write(lines)
        except InfluxError as exc:
            if exc.retryable:
                log.warning("alerts: InfluxDB not taking %d annotations, will retry: %s", len(lines), exc)
                return False
            log.error("alerts: InfluxDB refused %d annotations: %s", len(lines), exc)
            return True
        self.stats.annotations += len(lines)
        return True
