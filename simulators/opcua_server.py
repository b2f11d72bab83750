"""An OPC UA server that exposes simulated machines, built on asyncua.

The address space is organised Objects / {site} / {area} / {line} / {machine}, one
variable per signal at the node id the plant file binds, with the AnalogItem properties
EngineeringUnits and EURange (OPC UA Part 8 §5.3.2). Template: asyncua's
`examples/server-minimal.py` (`await server.init()`, then `async with server`).

With `security=ServerSecurity(...)` it serves only secured endpoints (by default
Basic256Sha256 SignAndEncrypt) with its own self-signed certificate, created on first use,
and, if `users` or `user_certificates` are given, accepts only those user names and
passwords or X.509 user certificates (no anonymous).

`write()` sets a value with its source timestamp and status code; every write is also
recorded through `on_write`, which is how tests know exactly what the "hardware" did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asyncua import Server, ua
from asyncua.common.node import Node
from asyncua.crypto import cert_gen, uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from simulators.models import SignalInfo
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


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """A secured simulator endpoint: its certificate and key (made if missing), policies and users."""

    certificate: Path  # DER
    private_key: Path  # PEM
    users: Mapping[str, str] = field(default_factory=dict)  # user name -> password
    user_certificates: tuple[Path, ...] = ()  # DER certificates accepted as X.509 user identities
    application_uri: str = "urn:factory-twin:simulator:server"
    policies: tuple[ua.SecurityPolicyType, ...] = (ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,)


class _Users:
    """asyncua user manager accepting exactly the configured user names and passwords, and user certificates."""

    def __init__(self, users: Mapping[str, str], certificates: set[bytes]) -> None:
        self._users = dict(users)
        self._certificates = certificates

    def accept(self, der: bytes) -> None:
        """Accept this DER certificate as a user identity."""
        self._certificates.add(der)

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        if username is not None and username in self._users and self._users[username] == password:
            return User(role=UserRole.User, name=username)
        if certificate is not None:
            der = certificate if isinstance(certificate, bytes) else certificate.public_bytes(Encoding.DER)
            if der in self._certificates:
                return User(role=UserRole.User, name="x509")
        return None


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
                 on_write: Callable[[Write], None] | None = None,
                 ranges: dict[BoundSignal, SignalInfo] | None = None,
                 security: ServerSecurity | None = None) -> None:
        self.endpoint = endpoint
        self.security = security
        self.signals = signals
        self._initial = initial
        self._ranges = ranges or {}
        self._on_write = on_write
        self._users = _Users(security.users, set()) if security and (security.users or security.user_certificates) \
            else None
        self._server = Server(user_manager=self._users)
        self._nodes: dict[BoundSignal, Node] = {}
        self._started = False

    async def __aenter__(self) -> OpcUaMachineServer:
        parts = urlsplit(self.endpoint)
        server = self._server
        await server.init()
        # Listen on the endpoint's port on all loopback/host addresses the URL names.
        server.set_endpoint(f"opc.tcp://{parts.hostname}:{parts.port or 4840}/")
        server.set_server_name("factory-twin simulator")
        if self.security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            await self._secure(parts.hostname or "localhost")
        ns = await server.register_namespace(NAMESPACE_URI)
        await self._build(ns)
        await server.start()
        self._started = True
        log.info("OPC UA simulator on %s with %d signals", self.endpoint, len(self.signals))
        return self

    async def _secure(self, host: str) -> None:
        sec = self.security
        assert sec is not None
        server = self._server
        for folder in {sec.certificate.parent, sec.private_key.parent}:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await cert_gen.setup_self_signed_certificate(sec.private_key, sec.certificate, sec.application_uri, host,
                                                     [ExtendedKeyUsageOID.SERVER_AUTH], {})
        await server.set_application_uri(sec.application_uri)
        await server.load_certificate(str(sec.certificate))
        await server.load_private_key(str(sec.private_key))
        server.set_security_policy(list(sec.policies))
        tokens: list[type] = []
        if sec.users:
            tokens.append(ua.UserNameIdentityToken)
        if sec.user_certificates and self._users is not None:
            tokens.append(ua.X509IdentityToken)
            for path in sec.user_certificates:
                cert = await uacrypto.load_certificate(str(path))
                self._users.accept(cert.public_bytes(Encoding.DER))
        if tokens:  # no anonymous users
            server.set_identity_tokens(tokens)

    async def __aexit__(self, *exc: object) -> None:
        if self._started:
            self._started = False
            await self._server.stop()

    async def _build(self, ns: int) -> None:
        folders: dict[tuple[str, ...], Node] = {}

        async def folder(path: tuple[str, ...]) -> Node:
            if path not in folders:
                parent = self._server.nodes.objects if len(path) == 1 else await folder(path[:-1])
                folders[path] = await parent.add_object(ua.NodeId("/".join(path), ns), ua.QualifiedName(path[-1], ns))
            return folders[path]

        for sig in self.signals:
            node = sig.spec.section("opcua").node
            node_id = ua.NodeId.from_string(node)
            if node_id.NamespaceIndex != ns:
                raise ConfigError(
                    f"signal {sig.asset}/{sig.name}: the simulator serves namespace index {ns} "
                    f"({NAMESPACE_URI}); node {node!r} uses ns={node_id.NamespaceIndex}"
                )
            machine = await folder((sig.asset.site, sig.asset.area, sig.asset.line, sig.asset.asset))
            initial = self._initial[sig]
            if isinstance(initial, int | float) and not isinstance(initial, bool):
                var = await self._add_analog_item(machine, node_id, ua.QualifiedName(sig.name, ns), initial, sig)
            else:
                var = await machine.add_variable(node_id, ua.QualifiedName(sig.name, ns), _variant(initial))
            self._nodes[sig] = var

    async def _add_analog_item(self, parent: Node, node_id: ua.NodeId, name: ua.QualifiedName,
                               initial: float | int, sig: BoundSignal) -> Node:
        """A variable of AnalogItemType (OPC UA Part 8 §5.3.2.3) with EngineeringUnits and EURange.

        asyncua's `add_variable` always types variables BaseDataVariableType, so the node is
        added with the same AddNodesItem it builds, but with the AnalogItemType definition.
        The properties carry their standard browse names in namespace 0, so generic clients
        find them by browse path (e.g. node-opcua's `readEngineeringUnits`-style lookups).
        """
        variant = _variant(initial)
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = node_id
        item.BrowseName = name
        item.NodeClass = ua.NodeClass.Variable
        item.ParentNodeId = parent.nodeid
        item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HasComponent)
        item.TypeDefinition = ua.NodeId(ua.ObjectIds.AnalogItemType)
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(name.Name)
        attrs.Description = ua.LocalizedText(sig.spec.description or name.Name)
        attrs.DataType = ua.NodeId(ua.ObjectIds.Double if variant.VariantType == ua.VariantType.Double
                                   else ua.ObjectIds.Int64)
        attrs.Value = variant
        attrs.ValueRank = ua.ValueRank.Scalar
        attrs.AccessLevel = ua.AccessLevel.CurrentRead.mask
        attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
        item.NodeAttributes = attrs
        result = (await parent.session.add_nodes([item]))[0]
        result.StatusCode.check()
        var = Node(parent.session, result.AddedNodeId)
        info = self._ranges.get(sig)
        unit = sig.spec.unit or (info.unit if info else "")
        if info is not None and info.high > info.low:
            eu_range = ua.Range(Low=float(info.low), High=float(info.high))
        else:
            eu_range = ua.Range(Low=0.0, High=max(100.0, abs(float(initial)) * 4))
        await var.add_property(ns_node(var, "EngineeringUnits"), ua.QualifiedName("EngineeringUnits", 0),
                               eu_information(unit), varianttype=ua.VariantType.ExtensionObject,
                               datatype=ua.NodeId(ua.ObjectIds.EUInformation))
        await var.add_property(ns_node(var, "EURange"), ua.QualifiedName("EURange", 0),
                               eu_range, varianttype=ua.VariantType.ExtensionObject,
                               datatype=ua.NodeId(ua.ObjectIds.Range))
        return var

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
    def running(self) -> bool:
        """Whether the server is serving (False after `stop`)."""
        return self._started

    @property
    def server(self) -> Any:
        """The underlying asyncua Server (for tests that need it)."""
        return self._server


def ns_node(var: Node, prop: str) -> ua.NodeId:
    """A property's node id: the variable's string id plus the property name, in its namespace."""
    ident = var.nodeid.Identifier
    return ua.NodeId(f"{ident}.{prop}" if isinstance(ident, str) else f"{ident}/{prop}", var.nodeid.NamespaceIndex)
