"""Simulate a whole plant file: OPC UA servers for OPC UA bindings, MQTT devices for MQTT ones.

Every signal in the plant file gets a value source: the model of its asset's `type`
(see `simulators.models`) or a random walk. OPC UA-bound signals are served by one
`OpcUaMachineServer` per connection, at the connection's endpoint; MQTT-bound signals are
published as JSON documents on their topics, each value placed at its JSONPath, with the
source timestamp at `timestamp_path`. Every value is reported to `on_value`, the ground
truth that tests compare with the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

from jsonpath_ng import parse as parse_jsonpath

from simulators.models import SignalModel, model_for
from simulators.opcua_server import OpcUaMachineServer, Write
from twin.mqtt import MqttClient
from twin.plant import BoundSignal, Plant
from twin.readings import Value, format_ts
from twin.topics import AssetPath

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Published:
    """One value an MQTT device published: ground truth for tests."""

    signal: BoundSignal
    ts: datetime
    value: Value


class PlantSimulator:
    """Runs the simulated hardware of a plant file; an async context manager, then `run()`."""

    def __init__(self, plant: Plant, *, mqtt: MqttClient | None, tick_s: float = 1.0, seed: int = 1,
                 on_value: Callable[[Write | Published], None] | None = None) -> None:
        self.plant = plant
        self.tick_s = tick_s
        self._mqtt = mqtt
        self._rng = random.Random(seed)
        self._on_value = on_value
        self._stack = AsyncExitStack()
        self.servers: dict[str, OpcUaMachineServer] = {}
        self.ticks = 0
        by_asset: dict[AssetPath, list[BoundSignal]] = defaultdict(list)
        for sig in plant.signals():
            by_asset[sig.asset].append(sig)
        self._assets = dict(by_asset)
        self._models: dict[AssetPath, SignalModel] = {
            path: model_for(sigs[0].asset_type, [s.name for s in sigs], rng=random.Random(self._rng.random()))
            for path, sigs in self._assets.items()
        }
        self._topics: dict[str, list[BoundSignal]] = defaultdict(list)
        for sigs in self._assets.values():
            for sig in sigs:
                if sig.spec.mqtt is not None:
                    self._topics[sig.spec.mqtt.topic].append(sig)
        if self._topics and mqtt is None:
            raise ValueError("the plant has MQTT-bound signals: PlantSimulator needs an MQTT client")
        self._current: dict[AssetPath, dict[str, Value]] = {
            path: model.step(0.0) for path, model in self._models.items()
        }

    async def __aenter__(self) -> PlantSimulator:
        by_connection: dict[str, list[BoundSignal]] = defaultdict(list)
        for sigs in self._assets.values():
            for sig in sigs:
                if sig.spec.opcua is not None:
                    by_connection[sig.spec.opcua.connection].append(sig)
        try:
            for name, sigs in by_connection.items():
                initial = {s: self._current[s.asset][s.name] for s in sigs}
                server = OpcUaMachineServer(endpoint=self.plant.connections.opcua[name].endpoint,
                                            signals=sigs, initial=initial, on_write=self._record)
                self.servers[name] = await self._stack.enter_async_context(server)
            # Stamp the initial values like every later one, so they are ground truth too.
            await self._write_opcua(datetime.now(UTC))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def server_for(self, sig: BoundSignal) -> OpcUaMachineServer:
        """The OPC UA server that serves a signal."""
        assert sig.spec.opcua is not None
        return self.servers[sig.spec.opcua.connection]

    async def run(self, *, ticks: int | None = None) -> None:
        """Advance the plant every tick_s seconds (forever, or for `ticks` ticks)."""
        while ticks is None or self.ticks < ticks:
            await asyncio.sleep(self.tick_s)
            await self.tick()

    async def tick(self) -> None:
        """Advance every model by one tick and emit the new values."""
        now = datetime.now(UTC)
        for path, model in self._models.items():
            self._current[path] = model.step(self.tick_s)
        self.ticks += 1
        await self._write_opcua(now)
        await self._publish_mqtt(now)

    async def _write_opcua(self, ts: datetime) -> None:
        for server in self.servers.values():
            for sig in server.signals:
                await server.write(sig, self._current[sig.asset][sig.name], ts)

    async def _publish_mqtt(self, ts: datetime) -> None:
        assert self._mqtt is not None or not self._topics
        for topic, sigs in self._topics.items():
            doc: dict[str, object] = {}
            for sig in sigs:
                binding = sig.spec.mqtt
                assert binding is not None
                parse_jsonpath(binding.path).update_or_create(doc, self._current[sig.asset][sig.name])
                if binding.timestamp_path:
                    parse_jsonpath(binding.timestamp_path).update_or_create(doc, format_ts(ts))
            assert self._mqtt is not None
            await self._mqtt.publish(topic, json.dumps(doc).encode(), qos=1)
            for sig in sigs:
                self._record(Published(sig, ts, self._current[sig.asset][sig.name]))

    def _record(self, event: Write | Published) -> None:
        if self._on_value is not None:
            self._on_value(event)
