"""An OPC UA server that exposes simulated machines, built on asyncua.

The address space is organised Objects / {site} / {area} / {line} / {machine}, one
variable per signal at the node id the plant file binds, with the AnalogItem properties
EngineeringUnits and EURange (OPC UA Part 8 §5.3.2). Template: asyncua's
`examples/server-minimal.py` (`await server.init()`, then `async with server`).

`write()` sets a value with its source timestamp and status code; every write is also
recorded through `on_write`, which is how tests know exactly what the "hardware" did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from asyncua import Server, ua
from asyncua.common.node import Node

from simulators.units import eu_information
from twin.errors import ConfigError
from twin.plant import BoundSignal
from twin.readings import Value

log = logging.getLogger(__name__)
NAMESPACE_URI = "urn:factory-twin:simulator"


@dataclass(frozen=True, slots=True)
class Write:
    """One value the simulated hardware set: the ground truth for tests."""

    signal: BoundSignal
    ts: datetime
    value: Value
    status: str  # OPC UA status code name, e.g. "Good", "BadSensorFailure"


def _variant(value: Value) -> ua.Variant:
    if isinstance(value, bool):
        return ua.Variant(value, ua.VariantType.Boolean)
    if isinstance(value, int):
        return ua.Variant(value, ua.VariantType.Int64)
    if isinstance(value, float):
        return ua.Variant(value, ua.VariantType.Double)
    if isinstance(value, str):
        return ua.Variant(value, ua.VariantType.String)
    return ua.Variant(None, ua.VariantType.Null)


class OpcUaMachineServer:
    """One OPC UA endpoint serving the signals of one plant connection; an async context manager."""

    def __init__(self, *, endpoint: str, signals: list[BoundSignal], initial: dict[BoundSignal, Value],
                 on_write: Callable[[Write], None] | None = None) -> None:
        self.endpoint = endpoint
        self.signals = signals
        self._initial = initial
        self._on_write = on_write
        self._server = Server()
        self._nodes: dict[BoundSignal, Node] = {}

    async def __aenter__(self) -> OpcUaMachineServer:
        parts = urlsplit(self.endpoint)
        server = self._server
        await server.init()
        # Listen on the endpoint's port on all loopback/host addresses the URL names.
        server.set_endpoint(f"opc.tcp://{parts.hostname}:{parts.port or 4840}/")
        server.set_server_name("factory-twin simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(NAMESPACE_URI)
        await self._build(ns)
        await server.start()
        log.info("OPC UA simulator on %s with %d signals", self.endpoint, len(self.signals))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop()

    async def _build(self, ns: int) -> None:
        folders: dict[tuple[str, ...], Node] = {}

        async def folder(path: tuple[str, ...]) -> Node:
            if path not in folders:
                parent = self._server.nodes.objects if len(path) == 1 else await folder(path[:-1])
                folders[path] = await parent.add_object(ua.NodeId("/".join(path), ns), ua.QualifiedName(path[-1], ns))
            return folders[path]

        for sig in self.signals:
            assert sig.spec.opcua is not None
            node_id = ua.NodeId.from_string(sig.spec.opcua.node)
            if node_id.NamespaceIndex != ns:
                raise ConfigError(
                    f"signal {sig.asset}/{sig.name}: the simulator serves namespace index {ns} "
                    f"({NAMESPACE_URI}); node {sig.spec.opcua.node!r} uses ns={node_id.NamespaceIndex}"
                )
            machine = await folder((sig.asset.site, sig.asset.area, sig.asset.line, sig.asset.asset))
            initial = self._initial[sig]
            var = await machine.add_variable(node_id, ua.QualifiedName(sig.name, ns), _variant(initial))
            # Properties get server-assigned numeric ids in our namespace.
            await var.add_property(ns, "EngineeringUnits", eu_information(sig.spec.unit))
            if isinstance(initial, float):
                await var.add_property(ns, "EURange", ua.Range(Low=0.0, High=max(100.0, abs(initial) * 4)))
            self._nodes[sig] = var

    async def write(self, sig: BoundSignal, value: Value, ts: datetime,
                    status: ua.StatusCode | None = None) -> None:
        """Set a signal's value with a source timestamp (and optionally a non-Good status)."""
        status = status or ua.StatusCode(ua.StatusCodes.Good)
        dv = ua.DataValue(_variant(value), StatusCode=status, SourceTimestamp=ts, ServerTimestamp=ts)
        await self._server.write_attribute_value(self._nodes[sig].nodeid, dv)
        if self._on_write is not None:
            self._on_write(Write(sig, ts, value, status.name))

    def node(self, sig: BoundSignal) -> Node:
        """The server-side node of a signal."""
        return self._nodes[sig]

    @property
    def server(self) -> Any:
        """The underlying asyncua Server (for tests that need it)."""
        return self._server
