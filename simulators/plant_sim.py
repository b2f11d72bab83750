"""Simulate a whole plant file: OPC UA servers for OPC UA bindings, MQTT devices for MQTT ones.

The values come from `simulators.engine.PlantEngine` (physics-lite models plus the
scenario's faults) on a simulated clock: tick k is stamped start + k·tick_s, and `run()`
paces ticks at tick_s / speed of wall time, so `speed=60` simulates an hour a minute with
consistent source timestamps. OPC UA-bound signals are served by one `OpcUaMachineServer`
per connection (one or many machines each); MQTT-bound signals are published as JSON
documents on their topics, each value at its JSONPath, the source time at `timestamp_path`.
Gauges publish one document per measured part. Every value is reported to `on_value`, the
ground truth that tests compare with the database; injected faults go to the labels CSV.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath

from simulators.engine import GOOD, Frame, PlantEngine, write_labels
from simulators.opcua_server import OpcUaMachineServer, Write
from simulators.scenario import Scenario
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
    status: str = GOOD


@dataclass(frozen=True, slots=True)
class _Topic:
    topic: str
    signals: list[tuple[BoundSignal, JSONPath, JSONPath | None]]
    assets: frozenset[AssetPath]
    per_part: bool  # a gauge: one document per measured part, not one per tick


class PlantSimulator:
    """Runs the simulated hardware of a plant file; an async context manager, then `run()`."""

    def __init__(self, plant: Plant, *, mqtt: MqttClient | None, tick_s: float = 1.0, seed: int = 1,
                 on_value: Callable[[Write | Published], None] | None = None, scenario: Scenario | None = None,
                 speed: float = 1.0, start: datetime | None = None, labels_path: str | Path | None = None,
                 catch_up: bool = False) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.plant = plant
        self.tick_s = tick_s
        self.speed = speed
        # catch_up: run at `speed` from a `start` in the past until simulated time reaches the
        # wall clock, then in real time (how `twin demo --backfill` gives charts a history).
        self.catch_up = catch_up
        self.labels_path = labels_path
        self.engine = PlantEngine(plant, scenario=scenario, seed=seed, tick_s=tick_s, start=start)
        self._mqtt = mqtt
        self._on_value = on_value
        self.servers: dict[str, OpcUaMachineServer] = {}
        self._down_until: dict[str, float] = {}  # connection → simulated time it comes back
        self.ticks = 0
        self.lag_s = 0.0  # how far the last run fell behind its wall-clock schedule
        self._by_connection: dict[str, list[BoundSignal]] = defaultdict(list)
        by_topic: dict[str, list[BoundSignal]] = defaultdict(list)
        for sig in plant.signals():
            if sig.spec.source == "opcua":
                self._by_connection[sig.spec.binding.connection].append(sig)
            elif sig.spec.source == "mqtt":
                by_topic[sig.spec.binding.topic].append(sig)
            else:
                raise ValueError(f"{sig.asset}/{sig.name}: the simulator has no {sig.spec.source!r} devices")
        self._topics = []
        for topic, sigs in by_topic.items():
            compiled = []
            for s in sigs:
                b = s.spec.binding
                compiled.append((s, parse_jsonpath(b.path), parse_jsonpath(b.timestamp_path) if b.timestamp_path
                                 else None))
            self._topics.append(_Topic(topic, compiled, frozenset(s.asset for s in sigs),
                                       any(s.asset_type == "gauge" for s in sigs)))
        if self._topics and mqtt is None:
            raise ValueError("the plant has MQTT-bound signals: PlantSimulator needs an MQTT client")
        self._frame = self.engine.initial

    @property
    def now(self) -> datetime:
        """The simulated time of the latest tick."""
        return self._frame.ts

    async def __aenter__(self) -> PlantSimulator:
        try:
            for name in self._by_connection:
                await self._start_server(name)
        except BaseException:
            await self._stop_all()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_all()
        if self.labels_path is not None:
            write_labels(self.engine.labels, self.labels_path)
            log.info("wrote %d fault labels to %s", len(self.engine.labels), self.labels_path)

    async def _start_server(self, name: str) -> None:
        sigs = self._by_connection[name]
        frame = self._frame
        server = OpcUaMachineServer(
            endpoint=self.plant.connections_of("opcua")[name].endpoint, signals=sigs,
            initial={s: frame.values[s.asset][s.name] for s in sigs}, on_write=self._record,
            ranges={s: info for s in sigs if (info := self.engine.signal_info(s)) is not None})
        await server.__aenter__()
        self.servers[name] = server
        # Stamp the current values like every later one, so they are ground truth too.
        await self._write_server(server, frame)

    async def _stop_all(self) -> None:
        for server in self.servers.values():
            try:
                await server.__aexit__(None, None, None)
            except Exception:  # stopping must go on for the other servers
                log.exception("stopping OPC UA server %s", server.endpoint)

    def server_for(self, sig: BoundSignal) -> OpcUaMachineServer:
        """The OPC UA server that serves a signal."""
        return self.servers[sig.spec.section("opcua").connection]

    async def run(self, *, ticks: int | None = None) -> None:
        """Advance the plant every tick_s / speed seconds of wall time (forever, or for `ticks` ticks)."""
        loop = asyncio.get_running_loop()
        period_s = self.tick_s / self.speed
        deadline = loop.time()
        done = 0
        while ticks is None or done < ticks:
            deadline += period_s
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                # Behind schedule: still give the event loop a turn every tick. A tick's writes and
                # publishes may complete without suspending, and a loop that never yields would
                # starve every other task in the process (timeouts, Ctrl-C, the edge agent).
                await asyncio.sleep(0)
                if -delay > max(1.0, 10 * period_s):
                    # Too slow for this speed: run flat out from here instead of bursting to catch up.
                    self.lag_s = -delay
                    log.warning("simulator %.1f s behind schedule at speed %g; running as fast as it can",
                                -delay, self.speed)
                    deadline = loop.time()
            await self.tick()
            done += 1
            if self.catch_up and self.speed != 1.0 and self.engine.ts(self.engine.t_s) >= datetime.now(UTC):
                log.info("simulator caught up with the wall clock; running in real time from here")
                self.speed, period_s, deadline = 1.0, self.tick_s, loop.time()

    async def tick(self) -> None:
        """Advance every model by one tick and emit the new values."""
        frame = self.engine.step()
        self._frame = frame
        self.ticks += 1
        await self._protocol_faults(frame)
        for name, server in self.servers.items():
            if name not in self._down_until:
                await self._write_server(server, frame)
        await self._publish_mqtt(frame)

    async def _protocol_faults(self, frame: Frame) -> None:
        for name, downtime_s in frame.restarts:
            if name in self.servers and name not in self._down_until:
                log.info("OPC UA server %s stops for %.0f s (scenario)", name, downtime_s)
                await self.servers[name].__aexit__(None, None, None)
                self._down_until[name] = frame.t_s + downtime_s
        for name, until in list(self._down_until.items()):
            if frame.t_s >= until:
                del self._down_until[name]
                log.info("OPC UA server %s restarts", name)
                await self._start_server(name)

    async def _write_server(self, server: OpcUaMachineServer, frame: Frame) -> None:
        for sig in server.signals:
            status = frame.status.get((sig.asset, sig.name), GOOD)
            code = None if status == GOOD else ua.StatusCode(getattr(ua.StatusCodes, status))
            await server.write(sig, frame.values[sig.asset][sig.name], frame.ts, code)

    async def _publish_mqtt(self, frame: Frame) -> None:
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
        if self._mqtt is None:  # checked in __init__: MQTT-bound signals need a client
            raise RuntimeError("no MQTT client")
        await self._mqtt.publish(topic.topic, json.dumps(doc).encode(), qos=1)
        for sig, _, _ in topic.signals:
            self._record(Published(sig, ts, values.get(sig.name), status.get(sig.name, GOOD)))

    def _record(self, event: Write | Published) -> None:
        if self._on_value is not None:
            self._on_value(event)
