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
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath

from edge_agent.sources.base import Emit, Source, SourceContext
from edge_agent.sources.mqtt.config import MqttBinding
from twin import topics
from twin.deadletter import DeadLetter
from twin.errors import PayloadError
from twin.mqtt import Message, MqttClient
from twin.plant import BoundSignal
from twin.readings import Reading, parse_ts
from twin.stats import Stats

log = logging.getLogger(__name__)


def build_sources(context: SourceContext) -> list[Source]:
    """One source for every MQTT-bound signal, reading through the agent's own broker connection."""
    dead = DeadLetter(context.client, topics.deadletter(f"edge.{context.agent_id}"))
    return [MqttDeviceSource(name="mqtt-devices", client=context.client, signals=context.signals,
                             stats=context.stats, dead_letter=dead)]


@dataclass(frozen=True, slots=True)
class _Binding:
    signal: BoundSignal
    value_path: JSONPath
    ts_path: JSONPath | None


class MqttDeviceSource:
    """Subscribes to the device topics of the plant's MQTT-bound signals."""

    def __init__(self, *, name: str, client: MqttClient, signals: list[BoundSignal], stats: Stats,
                 dead_letter: DeadLetter) -> None:
        self.name = name
        self.ready = asyncio.Event()
        self._client = client
        self._stats = stats
        self._dead_letter = dead_letter
        self._bindings: dict[str, list[_Binding]] = defaultdict(list)
        for sig in signals:
            b: MqttBinding = sig.spec.section("mqtt")
            ts_path = parse_jsonpath(b.timestamp_path) if b.timestamp_path else None
            self._bindings[b.topic].append(_Binding(sig, parse_jsonpath(b.path), ts_path))

    async def run(self, emit: Emit) -> None:
        """Subscribe to every device topic and turn messages into readings."""
        for topic in self._bindings:
            await self._client.subscribe(topic, qos=1)
        await self._client.wait_connected()
        self.ready.set()
        while True:
            message = await self._client.messages.get()
            try:
                for reading in self.parse(message):
                    emit(reading)
            except PayloadError as exc:
                self._stats.count("deadletters")
                await self._dead_letter.send(message, str(exc))

    def parse(self, message: Message) -> list[Reading]:
        """All readings in one device message; PayloadError names what is wrong."""
        bindings = self._bindings.get(message.topic)
        if not bindings:
            raise PayloadError(f"no signal is bound to topic {message.topic!r}")
        try:
            doc = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(f"not JSON: {exc}") from None
        received = datetime.now(UTC)
        readings = []
        for b in bindings:
            value = _one(b.value_path, doc, f"{b.signal.name}: value at {b.value_path}")
            if isinstance(value, float) and not math.isfinite(value):
                raise PayloadError(f"{b.signal.name}: value at {b.value_path} is not finite")
            if value is not None and not isinstance(value, int | float | bool | str):
                raise PayloadError(f"{b.signal.name}: value at {b.value_path} must be a number, boolean or string")
            ts = received
            if b.ts_path is not None:
                raw_ts = _one(b.ts_path, doc, f"{b.signal.name}: timestamp at {b.ts_path}")
                try:
                    ts = parse_ts(str(raw_ts))
                except ValueError as exc:
                    raise PayloadError(f"{b.signal.name}: timestamp at {b.ts_path}: {exc}") from None
            readings.append(Reading(b.signal.asset, b.signal.name, ts, value))
        return readings


def _one(path: JSONPath, doc: Any, what: str) -> Any:
    matches = path.find(doc)
    if not matches:
        raise PayloadError(f"{what}: not found in payload")
    return matches[0].value
