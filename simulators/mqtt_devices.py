"""Simulated MQTT devices (entry point `mqtt`): meters, sensors and gauges publishing JSON documents.

Signals that share a device topic are published together, each value at its JSONPath and
the source time at `timestamp_path`. Gauges publish one document per measured part, not
one per tick. A device a scenario takes offline publishes nothing meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath

from simulators.devices import DeviceContext, DeviceSimulator, Published
from simulators.engine import GOOD, Frame
from twin.errors import ConfigError
from twin.mqtt import MqttClient, MqttError
from twin.plant import BoundSignal
from twin.readings import Value, format_ts
from twin.topics import AssetPath

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0  # a real device does not wait for a broker forever either


@dataclass(frozen=True, slots=True)
class _Topic:
    topic: str
    signals: list[tuple[BoundSignal, JSONPath, JSONPath | None]]
    assets: frozenset[AssetPath]
    per_part: bool  # a gauge: one document per measured part, not one per tick


class MqttDevices:
    """Every device topic of the plant's MQTT-bound signals."""

    def __init__(self, context: DeviceContext) -> None:
        if context.mqtt is None:
            raise ConfigError("the plant has MQTT-bound signals: the simulator needs an MQTT client")
        self._mqtt: MqttClient = context.mqtt
        self._record = context.record
        self.unpublished = 0
        by_topic: dict[str, list[BoundSignal]] = defaultdict(list)
        for sig in context.signals:
            by_topic[sig.spec.section("mqtt").topic].append(sig)
        self._topics = []
        for topic, sigs in by_topic.items():
            compiled = []
            for s in sigs:
                b = s.spec.section("mqtt")
                compiled.append((s, parse_jsonpath(b.path),
                                 parse_jsonpath(b.timestamp_path) if b.timestamp_path else None))
            self._topics.append(_Topic(topic, compiled, frozenset(s.asset for s in sigs),
                                       any(s.asset_type == "gauge" for s in sigs)))

    async def start(self, frame: Frame) -> None:
        """Nothing to start: devices publish from the first tick on."""

    async def stop(self) -> None:
        """Nothing to stop: the MQTT client belongs to the caller."""

    async def tick(self, frame: Frame) -> None:
        """Publish the tick's documents (and each part a gauge measured)."""
        messages: list[tuple[_Topic, datetime, dict[str, Value], dict[str, str]]] = []
        for topic in self._topics:
            if topic.assets & frame.offline:
                continue
            if topic.per_part:
                for part in frame.parts:
                    if part.asset in topic.assets:
                        messages.append((topic, part.ts, part.values, part.status))
            else:
                values: dict[str, Value] = {}
                status: dict[str, str] = {}
                for sig, _, _ in topic.signals:
                    values[sig.name] = frame.values[sig.asset][sig.name]
                    if (s := frame.status.get((sig.asset, sig.name))) is not None:
                        status[sig.name] = s
                messages.append((topic, frame.ts, values, status))
        # Publish concurrently: each publish waits for its PUBACK, and at high speed one
        # round trip per message in series would be the bottleneck.
        await asyncio.gather(*(self._publish(*m) for m in messages))

    async def _publish(self, topic: _Topic, ts: datetime, values: dict[str, Value], status: dict[str, str]) -> None:
        doc: dict[str, object] = {}
        for sig, path, ts_path in topic.signals:
            path.update_or_create(doc, values.get(sig.name))
            if ts_path is not None:
                ts_path.update_or_create(doc, format_ts(ts))
        try:
            await self._mqtt.publish(topic.topic, json.dumps(doc).encode(), qos=1, timeout_s=PUBLISH_TIMEOUT_S)
        except MqttError as exc:
            # A device whose broker is away loses that reading; the simulation goes on.
            self.unpublished += 1
            log.warning("simulated device %s: not published: %s", topic.topic, exc)
            return
        for sig, _, _ in topic.signals:
            self._record(Published(sig, ts, values.get(sig.name), status.get(sig.name, GOOD)))


def build(context: DeviceContext) -> DeviceSimulator:
    """The MQTT device simulator (DeviceFactory)."""
    return MqttDevices(context)
