"""MQTT device source: JSON documents from devices (meters, sensors, gauges) → readings.

Each bound signal names its device topic and a JSONPath into the payload; several signals
usually share one topic. A payload that is not JSON, lacks a bound value, carries a value
of the wrong type or a bad timestamp is not dropped silently: it goes to the agent's
dead-letter topic with the reason and is counted, and the source carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath

from edge_agent.sources.base import Emit, Source, SourceContext
from edge_agent.sources.mqtt.config import MqttBinding
from twin import topics
from twin.consumer import Decoded, Item, StreamConsumer, Subscription
from twin.deadletter import DeadLetters
from twin.errors import PayloadError
from twin.mqtt import Message, MqttClient
from twin.plant import BoundSignal
from twin.readings import Reading, check_ts, check_value
from twin.stats import Stats

log = logging.getLogger(__name__)


def build_sources(context: SourceContext) -> list[Source]:
    """One source for every MQTT-bound signal, reading through the agent's own broker connection."""
    service = f"edge.{context.agent_id}"
    dead = DeadLetters(service=service, store=context.deadletters, client=context.client,
                       topic=topics.deadletter(service), stats=context.stats)
    return [MqttDeviceSource(name="mqtt-devices", client=context.client, signals=context.signals,
                             stats=context.stats, deadletters=dead, commit=context.commit)]


@dataclass(frozen=True, slots=True)
class _Binding:
    signal: BoundSignal
    value_path: JSONPath
    ts_path: JSONPath | None


class _Emitter:
    """The consumer's sink: hands decoded readings to the agent and waits until they are on disk.

    The consumer acknowledges the device messages to the broker after this returns, so a
    crash before the disk commit means redelivery (persistent session), not loss.
    """

    def __init__(self, emit: Emit, commit: Callable[[], Awaitable[None]]) -> None:
        self._emit = emit
        self._commit = commit

    async def write(self, items: Sequence[Item[list[Reading]]]) -> None:
        for item in items:
            for reading in item.value:
                self._emit(reading)
        await self._commit()


class MqttDeviceSource:
    """Subscribes to the device topics of the plant's MQTT-bound signals (through the one stream consumer)."""

    def __init__(self, *, name: str, client: MqttClient, signals: list[BoundSignal], stats: Stats,
                 deadletters: DeadLetters, commit: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._commit = commit
        self.ready = asyncio.Event()
        self._client = client
        self._stats = stats
        self._deadletters = deadletters
        self._bindings: dict[str, list[_Binding]] = defaultdict(list)
        for sig in signals:
            b: MqttBinding = sig.spec.section("mqtt")
            ts_path = parse_jsonpath(b.timestamp_path) if b.timestamp_path else None
            self._bindings[b.topic].append(_Binding(sig, parse_jsonpath(b.path), ts_path))

    async def run(self, emit: Emit) -> None:
        """Subscribe to every device topic and turn messages into readings."""
        consumer = StreamConsumer(name=self.name, client=self._client, decoder=self._decode,
                                  sink=_Emitter(emit, self._commit),
                                  subscriptions=[Subscription(topic) for topic in self._bindings],
                                  deadletters=self._deadletters, stats=self._stats)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(consumer.run(), name=f"{self.name}-consume")
            await consumer.ready.wait()
            await self._client.wait_connected()
            self.ready.set()
            await task

    def _decode(self, message: Message) -> Decoded[list[Reading]]:
        return Decoded(self.parse(message))

    def parse(self, message: Message) -> list[Reading]:
        """All readings in one device message; PayloadError names what is wrong."""
        bindings = self._bindings.get(message.topic)
        if not bindings:
            raise PayloadError(f"no signal is bound to topic {message.topic!r}")
        try:
            doc = json.loads(message.payload)
        except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also Python's int-digit limit
            raise PayloadError(f"not JSON: {exc}") from None
        except RecursionError:
            raise PayloadError("not JSON: nested too deeply") from None
        received = datetime.now(UTC)
        readings = []
        for b in bindings:
            value = check_value(f"{b.signal.name}: value at {b.value_path}",
                                _one(b.value_path, doc, f"{b.signal.name}: value at {b.value_path}"))
            ts = received
            if b.ts_path is not None:
                raw_ts = _one(b.ts_path, doc, f"{b.signal.name}: timestamp at {b.ts_path}")
                ts = check_ts(f"{b.signal.name}: timestamp at {b.ts_path}", raw_ts)
            readings.append(Reading(b.signal.asset, b.signal.name, ts, value))
        return readings


def _one(path: JSONPath, doc: Any, what: str) -> Any:
    matches = path.find(doc)
    if not matches:
        raise PayloadError(f"{what}: not found in payload")
    return matches[0].value
