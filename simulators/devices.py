"""What a simulated device family is: the simulator's side of a source plugin.

Each protocol the simulator can play registers a `DeviceFactory` in the entry-point group
`factory_twin.simulators` (pyproject.toml), under the name of its source plugin (opcua,
mqtt). `PlantSimulator` gives it the signals bound to that protocol; every tick it hands
it the frame to serve or publish. A protocol without a simulator can still be used by
the edge agent; the simulator then says which protocol it cannot play.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from simulators.engine import GOOD, Frame, PlantEngine
from simulators.opcua_server import Write
from twin.mqtt import MqttClient
from twin.plant import BoundSignal, Plant
from twin.readings import Value


@dataclass(frozen=True, slots=True)
class Published:
    """One value an MQTT device published: ground truth for tests."""

    signal: BoundSignal
    ts: datetime
    value: Value
    status: str = GOOD


Record = Callable[[Write | Published], None]


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """What a device family gets: the plant, its signals of this protocol, the engine and the outputs."""

    plant: Plant
    signals: list[BoundSignal]
    engine: PlantEngine
    mqtt: MqttClient | None
    record: Record


class DeviceSimulator(Protocol):
    """The simulated devices of one protocol: started, ticked, stopped by PlantSimulator."""

    async def start(self, frame: Frame) -> None:
        """Start serving, with the values of `frame` (the initial one)."""
        ...

    async def tick(self, frame: Frame) -> None:
        """Serve or publish one tick, including the protocol faults the frame carries."""
        ...

    async def stop(self) -> None:
        """Stop serving (each device, even if another fails to stop)."""
        ...


class DeviceFactory(Protocol):
    """Builds the device simulator of one protocol."""

    def __call__(self, context: DeviceContext) -> DeviceSimulator:
        """The devices serving `context.signals`."""
        ...
