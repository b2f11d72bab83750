"""OPC UA source: subscriptions (not polling) on one server, via asyncua.

One client per plant connection. Each bound node is a monitored item with a queue, so
fast changes between two publishing intervals are all delivered, not just the last.
Bad and Uncertain values are emitted with their quality and status name, never dropped
(DESIGN.md §6). When the server goes away, the whole session is rebuilt — new session,
new subscription, nodes resolved again — after a capped, jittered backoff, because a
restarted server has forgotten our subscription.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif

from edge_agent.sources.base import Emit, Source, SourceContext
from edge_agent.sources.opcua.config import OpcUaBinding, OpcUaConnection
from twin.backoff import Backoff
from twin.plant import BoundSignal
from twin.readings import Quality, Reading
from twin.stats import Stats

log = logging.getLogger(__name__)

# Monitored-item queue: how many changes the server keeps per item between publishes.
QUEUE_SIZE = 1000
HEALTH_CHECK_S = 1.0


def quality_of(status: ua.StatusCode) -> Quality:
    """OPC UA severity bits (Part 4 §7.34.1) → our quality."""
    if status.is_good():
        return Quality.GOOD
    if status.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


def _binding(sig: BoundSignal) -> OpcUaBinding:
    binding: OpcUaBinding = sig.spec.section("opcua")
    return binding


def build_sources(context: SourceContext) -> list[Source]:
    """One source per OPC UA connection that signals bind to."""
    by_connection: dict[str, list[BoundSignal]] = {}
    for sig in context.signals:
        by_connection.setdefault(_binding(sig).connection, []).append(sig)
    connections = context.plant.connections_of("opcua")
    return [OpcUaSource(name=name, connection=connections[name], signals=sigs, stats=context.stats)
            for name, sigs in by_connection.items()]


class OpcUaSource:
    """Subscribes to every signal bound to one OPC UA connection."""

    def __init__(self, *, name: str, connection: OpcUaConnection, signals: list[BoundSignal],
                 stats: Stats, backoff: Backoff | None = None) -> None:
        self.name = name
        self.connection = connection
        self.signals = signals
        self.ready = asyncio.Event()
        self._stats = stats
        self._backoff = backoff or Backoff()
        self._by_node: dict[str, BoundSignal] = {}

    async def run(self, emit: Emit) -> None:
        """Connect, subscribe, and stay subscribed until cancelled."""
        while True:
            try:
                await self._session(emit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any transport/protocol failure: rebuild the session
                self._stats.count(f"opcua.{self.name}.disconnects")
                log.warning("OPC UA %s (%s): %s", self.name, self.connection.endpoint, exc or type(exc).__name__)
            self.ready.clear()
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self, emit: Emit) -> None:
        client = Client(self.connection.endpoint, timeout=4)
        await client.connect()
        try:
            handler = _Handler(self, emit)
            sub = await client.create_subscription(self.connection.publishing_interval_ms, handler)
            nodes: list[Node] = []
            for sig in self.signals:
                node = client.get_node(_binding(sig).node)
                self._by_node[node.nodeid.to_string()] = sig
                nodes.append(node)
            results = await sub.subscribe_data_change(nodes, queuesize=QUEUE_SIZE)
            for sig, result in zip(self.signals, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    # The node is missing or unreadable: say which, keep the rest running.
                    log.error("OPC UA %s: cannot subscribe %s/%s at %s: %s", self.name, sig.asset, sig.name,
                              _binding(sig).node, result.name)
                    self._stats.count("opcua.subscribe_errors")
            self.ready.set()
            self._backoff.reset()
            log.info("OPC UA %s: subscribed %d signals on %s", self.name, len(nodes), self.connection.endpoint)
            server_state = client.get_node(ua.ObjectIds.Server_ServerStatus_State)
            while True:
                # A cheap read proves the session is alive; a dead server raises within `timeout`.
                await asyncio.sleep(HEALTH_CHECK_S)
                await server_state.read_value()
        finally:
            try:
                async with asyncio.timeout(2):
                    await client.disconnect()
            except Exception:  # the server may already be gone; nothing to clean up there
                pass

    def _notify(self, emit: Emit, node: Node, val: Any, data: DataChangeNotif) -> None:
        sig = self._by_node.get(node.nodeid.to_string())
        if sig is None:
            return
        dv: ua.DataValue = data.monitored_item.Value
        status = dv.StatusCode or ua.StatusCode()
        ts = dv.SourceTimestamp or dv.ServerTimestamp or datetime.now(UTC)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)  # asyncua may hand out naive UTC datetimes
        quality = quality_of(status)
        emit(Reading(sig.asset, sig.name, ts, val, quality, None if quality is Quality.GOOD else status.name))


class _Handler:
    """asyncua subscription handler: hands each data change to the source."""

    def __init__(self, source: OpcUaSource, emit: Emit) -> None:
        self._source = source
        self._emit = emit

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._source._notify(self._emit, node, val, data)

    def status_change_notification(self, status: Any) -> None:
        log.warning("OPC UA %s: subscription status changed: %s", self._source.name, status)
