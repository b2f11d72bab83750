"""What every edge-agent source is: something that emits normalised readings until cancelled.

A protocol is a folder here (`opcua/`, `mqtt/`) with its plant-file models, its source and
a `plugin.py` registered as an entry point in `factory_twin.sources` (twin/plugins.py). The
plugin names a `SourceFactory`, which the agent calls with the signals bound to that
protocol; adding a protocol is adding a folder, not editing a switch statement
(CONVENTIONS.md, house habit 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from twin.deadletter import DeadLetterStore
from twin.mqtt import MqttClient
from twin.plant import BoundSignal, Plant
from twin.readings import Reading
from twin.stats import Stats

Emit = Callable[[Reading], None]


class Source(Protocol):
    """A source of readings. `ready` is set once it is connected and subscribed."""

    name: str
    ready: asyncio.Event

    async def run(self, emit: Emit) -> None:
        """Emit readings until cancelled; reconnect on its own with backoff."""
        ...


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source factory gets: the plant, its signals bound to this protocol, and the agent's parts."""

    plant: Plant
    signals: list[BoundSignal]
    client: MqttClient  # the agent's broker connection (MQTT devices are read through it)
    stats: Stats
    agent_id: str
    deadletters: DeadLetterStore  # where refused device input is kept
    commit: Callable[[], Awaitable[None]]  # put what was emitted on disk now (then acknowledge the input)


class SourceFactory(Protocol):
    """Builds the sources of one protocol (one per connection, or one for all its signals)."""

    def __call__(self, context: SourceContext) -> list[Source]:
        """The sources reading `context.signals`."""
        ...
