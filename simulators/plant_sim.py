"""Simulate a whole plant file: each protocol's devices come from its simulator plugin.

The values come from `simulators.engine.PlantEngine` (physics-lite models plus the
scenario's faults) on a simulated clock: tick k is stamped start + k·tick_s, and `run()`
paces ticks at tick_s / speed of wall time, so `speed=60` simulates an hour a minute with
consistent source timestamps. The signals bound to each source plugin are played by the
device simulator registered for it in `factory_twin.simulators` (simulators/devices.py):
OPC UA signals by one `OpcUaMachineServer` per connection (simulators/opcua_devices.py),
MQTT signals as JSON documents on their topics (simulators/mqtt_devices.py). Every value
is reported to `on_value`, the ground truth that tests compare with the database;
injected faults go to the labels CSV.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from simulators.devices import DeviceContext, DeviceFactory, DeviceSimulator, Published
from simulators.engine import PlantEngine, write_labels
from simulators.opcua_devices import OpcUaDevices
from simulators.opcua_server import OpcUaMachineServer, Write
from simulators.scenario import Scenario
from twin.errors import ConfigError
from twin.mqtt import MqttClient
from twin.plant import BoundSignal, Plant
from twin.plugins import load_ref, simulator_refs

__all__ = ["PlantSimulator", "Published"]

log = logging.getLogger(__name__)


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
        self._on_value = on_value
        self.ticks = 0
        self.lag_s = 0.0  # how far the last run fell behind its wall-clock schedule
        by_source: dict[str, list[BoundSignal]] = defaultdict(list)
        for sig in plant.signals():
            by_source[sig.spec.source].append(sig)
        factories = simulator_refs()
        self.devices: dict[str, DeviceSimulator] = {}
        for source, sigs in sorted(by_source.items()):
            if source not in factories:
                raise ConfigError(f"the simulator cannot play {source!r} devices ({sigs[0].asset}/{sigs[0].name}); "
                                  f"it has: {', '.join(sorted(factories))}")
            factory: DeviceFactory = load_ref(factories[source])
            self.devices[source] = factory(DeviceContext(plant=plant, signals=sigs, engine=self.engine, mqtt=mqtt,
                                                         record=self._record))
        self._frame = self.engine.initial

    @property
    def now(self) -> datetime:
        """The simulated time of the latest tick."""
        return self._frame.ts

    @property
    def servers(self) -> dict[str, OpcUaMachineServer]:
        """The OPC UA servers by connection (empty when the plant has no OPC UA signals)."""
        devices = self.devices.get("opcua")
        return devices.servers if isinstance(devices, OpcUaDevices) else {}

    def server_for(self, sig: BoundSignal) -> OpcUaMachineServer:
        """The OPC UA server that serves a signal."""
        return self.servers[sig.spec.section("opcua").connection]

    async def __aenter__(self) -> PlantSimulator:
        started: list[DeviceSimulator] = []
        try:
            for devices in self.devices.values():
                await devices.start(self._frame)
                started.append(devices)
        except BaseException:
            await self._stop(started)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop(list(self.devices.values()))
        if self.labels_path is not None:
            write_labels(self.engine.labels, self.labels_path)
            log.info("wrote %d fault labels to %s", len(self.engine.labels), self.labels_path)

    @staticmethod
    async def _stop(devices: list[DeviceSimulator]) -> None:
        for d in devices:
            try:
                await d.stop()
            except Exception:  # stopping must go on for the other protocols
                log.exception("stopping simulated %s devices", type(d).__name__)

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
        """Advance every model by one tick and let every protocol's devices emit the new values."""
        frame = self.engine.step()
        self._frame = frame
        self.ticks += 1
        for devices in self.devices.values():
            await devices.tick(frame)

    def _record(self, event: Write | Published) -> None:
        if self._on_value is not None:
            self._on_value(event)
