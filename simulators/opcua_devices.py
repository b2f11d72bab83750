"""Simulated OPC UA machines: one `OpcUaMachineServer` per plant connection (entry point `opcua`).

Each connection of the plant file that OPC UA signals bind to gets a server on its
endpoint, serving those signals; every tick writes the new values with their source
time and status. A scenario's `server_restart` fault stops a server for a while and
starts a fresh one (a restarted server has forgotten every subscription).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from asyncua import ua

from simulators.devices import DeviceContext, DeviceSimulator
from simulators.engine import GOOD, Frame
from simulators.opcua_server import OpcUaMachineServer
from twin.plant import BoundSignal

log = logging.getLogger(__name__)


class OpcUaDevices:
    """The plant's OPC UA servers, by connection name."""

    def __init__(self, context: DeviceContext) -> None:
        self._context = context
        self._by_connection: dict[str, list[BoundSignal]] = defaultdict(list)
        for sig in context.signals:
            self._by_connection[sig.spec.section("opcua").connection].append(sig)
        self.servers: dict[str, OpcUaMachineServer] = {}
        self._down_until: dict[str, float] = {}  # connection → simulated time it comes back
        self._frame: Frame | None = None

    async def start(self, frame: Frame) -> None:
        """Start a server per connection, with the frame's values."""
        self._frame = frame
        try:
            for name in self._by_connection:
                await self._start_server(name, frame)
        except BaseException:
            await self.stop()
            raise

    async def _start_server(self, name: str, frame: Frame) -> None:
        sigs = self._by_connection[name]
        engine = self._context.engine
        server = OpcUaMachineServer(
            endpoint=self._context.plant.connections_of("opcua")[name].endpoint, signals=sigs,
            initial={s: frame.values[s.asset][s.name] for s in sigs}, on_write=self._context.record,
            ranges={s: info for s in sigs if (info := engine.signal_info(s)) is not None})
        await server.__aenter__()
        self.servers[name] = server
        # Stamp the current values like every later one, so they are ground truth too.
        await self._write_server(server, frame)

    async def stop(self) -> None:
        """Stop every server; one failing to stop does not keep the others running."""
        for server in self.servers.values():
            try:
                await server.__aexit__(None, None, None)
            except Exception:  # stopping must go on for the other servers
                log.exception("stopping OPC UA server %s", server.endpoint)

    def server_for(self, sig: BoundSignal) -> OpcUaMachineServer:
        """The server that serves a signal."""
        return self.servers[sig.spec.section("opcua").connection]

    async def tick(self, frame: Frame) -> None:
        """Apply restarts, then write the tick's values to every running server."""
        for name, downtime_s in frame.restarts:
            if name in self.servers and name not in self._down_until:
                log.info("OPC UA server %s stops for %.0f s (scenario)", name, downtime_s)
                await self.servers[name].__aexit__(None, None, None)
                self._down_until[name] = frame.t_s + downtime_s
        for name, until in list(self._down_until.items()):
            if frame.t_s >= until:
                del self._down_until[name]
                log.info("OPC UA server %s restarts", name)
                await self._start_server(name, frame)
        for name, server in self.servers.items():
            if name not in self._down_until:
                await self._write_server(server, frame)

    @staticmethod
    async def _write_server(server: OpcUaMachineServer, frame: Frame) -> None:
        for sig in server.signals:
            status = frame.status.get((sig.asset, sig.name), GOOD)
            code = None if status == GOOD else ua.StatusCode(getattr(ua.StatusCodes, status))
            await server.write(sig, frame.values[sig.asset][sig.name], frame.ts, code)


def build(context: DeviceContext) -> DeviceSimulator:
    """The OPC UA device simulator (DeviceFactory)."""
    return OpcUaDevices(context)
