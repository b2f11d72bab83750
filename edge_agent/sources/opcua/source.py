"""OPC UA source: subscriptions (not polling) on one server, via asyncua.

One client per plant connection. Each bound node is a monitored item with a queue, so
fast changes between two publishing intervals are all delivered, not just the last.
Bad and Uncertain values are emitted with their quality and status name, never dropped
(DESIGN.md §6).

When the server goes away, the whole session is rebuilt — new session, new subscription,
nodes resolved again — because a restarted server has forgotten our subscription. The
retries follow a `ReconnectPolicy`: about twice a second for the first two minutes of an
outage (most outages are restarts that last seconds), then capped exponential backoff
with jitter. asyncua's connection supervisor notices a closed socket at once and a silent
server within about two seconds (see `HEALTH_CHECK_S`).

After a reconnect, the values a node took while we were away are read back from the
server's history (HistoryRead, OPC UA Part 11 §6.4.3, raw data) from the source time of
the last value received, and emitted through the same path, once per source time. Live
values of that node are held meanwhile and follow in order, so the deadband and the
store see each node's values in source-time order. Where the server keeps no history
of a node, or its history does not reach back to our last value, nothing is made up:
the span is recorded as a `Gap` (counted as `opcua.gaps`, logged once per node and outage).

A secured connection (`security_policy` other than None) is set up again on every
session: our application certificate from the PKI folder (`pki.py`, created on first
use), the server's endpoint with the configured policy and mode, the server certificate
checked against our trust list, and the user identity (a password read from the
environment at each connect, so a rotated one is picked up without a restart).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.common.utils import NotEnoughData
from asyncua.crypto import security_policies

from edge_agent.sources.base import Emit, Source, SourceContext
from edge_agent.sources.opcua.config import OpcUaBinding, OpcUaConnection
from edge_agent.sources.opcua.pki import Pki, PkiError, application_uri
from twin.backoff import ReconnectPolicy
from twin.errors import TwinError
from twin.plant import BoundSignal
from twin.readings import Quality, Reading
from twin.settings import Settings
from twin.stats import Stats
from twin.topics import AssetPath

log = logging.getLogger(__name__)

# Monitored-item queue: how many changes the server keeps per item between publishes.
QUEUE_SIZE = 1000
# asyncua's connection supervisor reads Server_ServerStatus_State every HEALTH_CHECK_S and
# gives the read as long again to answer, so a server that went silent is noticed within
# about 2 s, at the cost of one small read per second on a live one; a closed connection
# (a restart, a refused socket) is noticed at once.
HEALTH_CHECK_S = 1.0
# Closing the old session politely is worth a moment, not a delay of the reconnect.
DISCONNECT_TIMEOUT_S = 1.0
# Values asked per HistoryRead request while reading a gap back.
HISTORY_PAGE_VALUES = 1000
# Placeholders a server returns for bounds it has not got (Part 11 §6.4.3.2): not samples.
_NOT_SAMPLES = frozenset({ua.StatusCodes.BadBoundNotFound, ua.StatusCodes.BadBoundNotSupported})
# Recent gaps kept for inspection (`OpcUaSource.gaps`); the counter counts them all.
MAX_GAPS_KEPT = 1000
_POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}


class OpcUaSecurityError(TwinError):
    """A secured connection cannot be set up as configured; the message says what to change."""


class _NoCredentials(logging.Filter):
    """Drops asyncua's DEBUG dump of an ActivateSessionRequest: it holds the user's password in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(isinstance(arg, ua.ActivateSessionRequest) for arg in _args(record))


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    return args if isinstance(args, tuple) else ()


# asyncua logs every request it sends at DEBUG ("Sending: %s"), and a UserNameIdentityToken's
# password is plain text in it when the channel is encrypted (Part 4 §7.36.4 lets the token
# go unencrypted then). `twin` keeps asyncua at ERROR, but a library user may not.
logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(_NoCredentials())


def quality_of(status: ua.StatusCode) -> Quality:
    """OPC UA severity bits (Part 4 §7.34.1) → our quality."""
    if status.is_good():
        return Quality.GOOD
    if status.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


def _binding(sig: BoundSignal) -> OpcUaBinding:
    binding: OpcUaBinding = sig.spec.section("opcua")
    return binding


def build_sources(context: SourceContext) -> list[Source]:
    """One source per OPC UA connection that signals bind to."""
    by_connection: dict[str, list[BoundSignal]] = {}
    for sig in context.signals:
        by_connection.setdefault(_binding(sig).connection, []).append(sig)
    connections = context.plant.connections_of("opcua")
    pki = Pki(Settings().state_dir / "pki", application_uri=application_uri(context.agent_id))
    return [OpcUaSource(name=name, connection=connections[name], signals=sigs, stats=context.stats, pki=pki)
            for name, sigs in by_connection.items()]


def source_time(dv: ua.DataValue) -> datetime | None:
    """A DataValue's source time (else its server time), as an aware UTC datetime."""
    ts: datetime | None = dv.SourceTimestamp or dv.ServerTimestamp
    if ts is not None and ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)  # asyncua may hand out naive UTC datetimes
    return ts


def to_reading(sig: BoundSignal, dv: ua.DataValue) -> Reading:
    """One DataValue of a signal's node as a reading, with its quality and (unless Good) status."""
    status = dv.StatusCode or ua.StatusCode()
    quality = quality_of(status)
    value = dv.Value.Value if dv.Value is not None else None
    return Reading(sig.asset, sig.name, source_time(dv) or datetime.now(UTC), value, quality,
                   None if quality is Quality.GOOD else status.name)


@dataclass(frozen=True, slots=True)
class Gap:
    """A completeness event: a span in which a node's values may be missing and could not be read back."""

    asset: AssetPath
    signal: str
    node: str
    start: datetime  # source time of the last value we have before the span
    end: datetime  # from here on the values are known again (the resubscription, or history)
    reason: str


@dataclass(frozen=True, slots=True)
class Backfill:
    """What to emit from a node's history after an outage."""

    values: list[ua.DataValue]  # after the floor, oldest first, one per source time
    reaches_back: bool  # the history holds a value at or before the floor: nothing missing before values[0]
    truncated: bool  # the history has more after values[-1] than we may read back


def plan_backfill(floor: datetime, history: Sequence[ua.DataValue], *, max_values: int,
                  more: bool = False) -> Backfill:
    """Choose the values of `history` to emit after `floor`: strictly later, once per source time.

    `more` says the server has values beyond `history`. A server may return a value twice
    (asyncua historizes the current value again when it restarts); the first one is kept.
    """
    by_ts: dict[datetime, ua.DataValue] = {}
    reaches_back = False
    for dv in history:
        ts = source_time(dv)
        if ts is None or (dv.StatusCode is not None and dv.StatusCode.value in _NOT_SAMPLES):
            continue
        if ts <= floor:
            reaches_back = True
        else:
            by_ts.setdefault(ts, dv)
    ordered = [by_ts[ts] for ts in sorted(by_ts)]
    return Backfill(ordered[:max_values], reaches_back, more or len(ordered) > max_values)


async def read_history(node: Node, start: datetime, *, max_values: int) -> tuple[list[ua.DataValue], bool]:
    """Raw history of a node from `start` (inclusive) on, until `max_values` values after it; (values, more).

    No end time is given, which with a value count means "forward from the start"
    (Part 11 §6.4.3.1), so the edge's clock does not cut off what a server stamped
    ahead of it. Continuation points are followed; a server that fills a page without
    one (asyncua's does) is paged on by source time. Raises `ua.UaStatusCodeError` if
    the server refuses (e.g. BadHistoryOperationUnsupported).
    """
    values: list[ua.DataValue] = []
    later: set[datetime] = set()
    page_start = start
    continuation: bytes | None = None
    while True:
        # With bounds, a server returns the value at or before the start too (Part 11 §6.4.3.2),
        # which shows that its history reaches back to our last value.
        details = ua.ReadRawModifiedDetails(IsReadModified=False, StartTime=page_start, EndTime=ua.get_win_epoch(),
                                            NumValuesPerNode=HISTORY_PAGE_VALUES, ReturnBounds=True)
        result = await node.history_read(details, continuation)
        result.StatusCode.check()
        page: list[ua.DataValue] = list(result.HistoryData.DataValues or []) if result.HistoryData else []
        values.extend(page)
        stamps = [ts for ts in map(source_time, page) if ts is not None]
        later.update(ts for ts in stamps if ts > start)
        if len(later) > max_values:
            return values, True
        continuation = result.ContinuationPoint
        if continuation:
            continue
        if len(page) < HISTORY_PAGE_VALUES or not stamps:
            return values, False
        newest = max(stamps)
        if newest <= page_start:  # a full page of one source time: cannot page on by time
            return values, True
        page_start = newest


@dataclass
class _Track:
    """What the source knows about one node, across sessions."""

    sig: BoundSignal
    node: str
    last_ts: datetime | None = None  # the newest source time emitted
    held: list[Reading] | None = None  # live readings held while the node's gap is read back
    seen: set[datetime] = field(default_factory=set)  # source times emitted since the reconnect (while held)


class OpcUaSource:
    """Subscribes to every signal bound to one OPC UA connection."""

    def __init__(self, *, name: str, connection: OpcUaConnection, signals: list[BoundSignal],
                 stats: Stats, reconnect: ReconnectPolicy | None = None, pki: Pki | None = None) -> None:
        self.name = name
        self.connection = connection
        self.signals = signals
        self.ready = asyncio.Event()
        self._stats = stats
        self._reconnect = reconnect or ReconnectPolicy()
        self._tracks: dict[str, _Track] = {}
        for sig in signals:
            node = ua.NodeId.from_string(_binding(sig).node).to_string()
            self._tracks[node] = _Track(sig, node)
        self._gaps: collections.deque[Gap] = collections.deque(maxlen=MAX_GAPS_KEPT)
        self._emit: Emit = _nowhere
        self._down_since: float | None = None  # monotonic time the current outage began
        self._failed_attempts = 0
        self._pki = pki  # made from TWIN_STATE_DIR on the first secured session if not given
        self._last_error: str | None = None

    @property
    def pki(self) -> Pki | None:
        """The certificate store used for secured sessions (None until the first one, if not given)."""
        return self._pki

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed (None while connected, or before the first attempt)."""
        return self._last_error

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """The most recent gaps (up to MAX_GAPS_KEPT), oldest first."""
        return tuple(self._gaps)

    async def run(self, emit: Emit) -> None:
        """Connect, subscribe, and stay subscribed until cancelled."""
        self._emit = emit
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any transport/protocol failure: rebuild the session
                self._failed(exc)
            self.ready.clear()
            await asyncio.sleep(self._reconnect.next_delay())

    def _failed(self, exc: Exception) -> None:
        reason = str(exc) or type(exc).__name__
        self._last_error = reason
        if self._down_since is None:
            self._down_since = time.monotonic()
            if isinstance(exc, OpcUaSecurityError | PkiError):
                log.error("OPC UA %s (%s): %s", self.name, self.connection.endpoint, reason)
                return
            log.warning("OPC UA %s (%s): %s; retrying", self.name, self.connection.endpoint, reason)
        else:
            # One warning per outage: a retry twice a second would otherwise flood the log.
            self._failed_attempts += 1
            log.debug("OPC UA %s (%s): still away: %s", self.name, self.connection.endpoint, reason)

    async def _session(self) -> None:
        client = Client(self.connection.endpoint, timeout=self.connection.request_timeout_s,
                        watchdog_intervall=HEALTH_CHECK_S)
        lost: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

        async def on_lost(exc: Exception) -> None:
            if not lost.done():
                lost.set_result(exc)

        client.connection_lost_callback = on_lost
        try:
            await self._secure(client)
            await client.connect()
        except ua.UaStatusCodeError as err:
            client.disconnect_socket()
            raise _explained(err, self.connection) from err
        except (AssertionError, NotEnoughData) as err:
            # asyncua cannot parse the server's answer to our OpenSecureChannel/CreateSession: a
            # server that does not trust our certificate (node-opcua) answers that way.
            client.disconnect_socket()
            if not self.connection.secured:
                raise
            raise OpcUaSecurityError(
                f"connection {self.name}: the server broke off the secure channel while we opened it "
                f"({type(err).__name__}); it most likely does not trust our certificate: give its administrator "
                f"the certificate `twin certs show` prints, to trust") from err
        except ua.UaError as err:
            client.disconnect_socket()
            if not self.connection.secured and str(err).startswith("No matching endpoints"):
                raise OpcUaSecurityError(
                    f"connection {self.name}: the server offers no endpoint without security "
                    f"(it offers: {await self._offered(client)}); set security_policy and security_mode") from err
            raise
        except BaseException:
            client.disconnect_socket()
            raise
        self._last_error = None
        resubscribed = datetime.now(UTC)
        floors: dict[str, datetime] = {}
        catch_up: asyncio.Task[None] | None = None
        try:
            # Nodes we had values of: hold their live values until their gap is read back.
            for track in self._tracks.values():
                if track.last_ts is not None:
                    floors[track.node] = track.last_ts
                    track.held, track.seen = [], {track.last_ts}
            sub = await client.create_subscription(self.connection.publishing_interval_ms, _Handler(self))
            nodes = [client.get_node(node) for node in self._tracks]
            results = await sub.subscribe_data_change(nodes, queuesize=QUEUE_SIZE)
            for track, result in zip(self._tracks.values(), results, strict=True):
                if isinstance(result, ua.StatusCode):
                    # The node is missing or unreadable: say which, keep the rest running.
                    log.error("OPC UA %s: cannot subscribe %s/%s at %s: %s", self.name, track.sig.asset,
                              track.sig.name, track.node, result.name)
                    self._stats.count("opcua.subscribe_errors")
                    floors.pop(track.node, None)
                    self._release(track)
            self.ready.set()
            self._reconnect.reset()
            self._back(len(nodes))
            if floors:
                catch_up = asyncio.create_task(self._catch_up_safely(client, floors, resubscribed),
                                               name=f"opcua-{self.name}-backfill")
            exc = await lost
            self.ready.clear()  # at once: closing the old session politely may take a moment
            self._stats.count(f"opcua.{self.name}.disconnects")
            raise ConnectionError(f"connection lost: {exc or type(exc).__name__}")
        finally:
            if catch_up is not None:
                catch_up.cancel()
                await asyncio.gather(catch_up, return_exceptions=True)
            self._abandon_catch_up(floors, resubscribed)
            try:
                async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                    await client.disconnect()
            except Exception:  # the server may already be gone; nothing to clean up there
                pass
            finally:
                client.disconnect_socket()  # idempotent; closes the socket if disconnect() did not get to it

    async def _secure(self, client: Client) -> None:
        """Apply the connection's security and user identity to a new client (before connect)."""
        conn = self.connection
        if conn.username is not None and conn.password_env is not None:
            password = os.environ.get(conn.password_env)
            if password is None:
                raise OpcUaSecurityError(f"connection {self.name}: the environment variable {conn.password_env} "
                                         f"(password_env) is not set; it must hold the password of {conn.username}")
            client.set_user(conn.username)
            client.set_password(password)
        if not conn.secured:
            return
        if self._pki is None:
            self._pki = Pki(Settings().state_dir / "pki", application_uri=application_uri())
        pki = self._pki
        await asyncio.to_thread(pki.ensure)
        client.application_uri = pki.application_uri
        client.certificate_validator = pki.server_validator()
        policy = _POLICIES[conn.security_policy]
        mode = getattr(ua.MessageSecurityMode, conn.security_mode)
        endpoints = await client.connect_and_get_server_endpoints()
        chosen = [ep for ep in endpoints if ep.SecurityMode == mode and ep.SecurityPolicyUri == policy.URI]
        if not chosen:
            raise OpcUaSecurityError(f"connection {self.name}: the server offers no endpoint with "
                                     f"{conn.security_policy} {conn.security_mode}; it offers: {_offers(endpoints)}")
        await client.set_security(policy, pki.cert_path, pki.key_path, mode=mode,
                                  server_certificate=_server_cert(chosen[0].ServerCertificate))
        if conn.user_certificate is not None:
            await client.load_client_certificate(str(conn.user_certificate.certificate))
            await client.load_private_key(conn.user_certificate.private_key)

    async def prepare(self, client: Client) -> None:
        """Apply this connection's security and user identity to a client of one's own (`twin opcua browse`)."""
        await self._secure(client)

    async def _offered(self, client: Client) -> str:
        """The server's endpoints' policies and modes, for an error message (or why they cannot be listed)."""
        try:
            return _offers(await client.connect_and_get_server_endpoints())
        except Exception as exc:  # only an error message depends on it
            return f"cannot list them: {exc or type(exc).__name__}"

    def _back(self, n_nodes: int) -> None:
        if self._down_since is not None:
            log.info("OPC UA %s: back on %s after %.1f s (%d retries); subscribed %d signals", self.name,
                     self.connection.endpoint, time.monotonic() - self._down_since, self._failed_attempts, n_nodes)
        else:
            log.info("OPC UA %s: subscribed %d signals on %s", self.name, n_nodes, self.connection.endpoint)
        self._down_since, self._failed_attempts = None, 0

    async def _catch_up_safely(self, client: Client, floors: dict[str, datetime], until: datetime) -> None:
        """`_catch_up`, and if it fails for a reason of ours, no node's live values stay held."""
        try:
            await self._catch_up(client, floors, until)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("OPC UA %s: reading the gap back failed", self.name)
            self._abandon_catch_up(floors, until)

    async def _catch_up(self, client: Client, floors: dict[str, datetime], until: datetime) -> None:
        """Read each node's gap back from the server's history, or record it as a gap."""
        tracks = [self._tracks[node] for node in floors]
        if not self.connection.history_backfill:
            for track in tracks:
                self._gap(track, floors[track.node], until, "history backfill is off for this connection")
                self._release(track)
            return
        nodes = [client.get_node(track.node) for track in tracks]
        try:
            levels: list[ua.DataValue | None] = list(await client.read_attributes(nodes, ua.AttributeIds.AccessLevel))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # cannot tell: try HistoryRead anyway, it says for itself
            log.debug("OPC UA %s: cannot read access levels: %s", self.name, exc)
            levels = [None] * len(nodes)
        filled = 0
        for track, node, level in zip(tracks, nodes, levels, strict=True):
            floor = floors[track.node]
            if level is not None and not _history_readable(level):
                self._gap(track, floor, until, "the server keeps no history of this node")
                self._release(track)
                continue
            try:
                history, more = await read_history(node, floor, max_values=self.connection.history_max_values)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # BadHistoryOperationUnsupported, a timeout, a server error
                self._gap(track, floor, until, f"HistoryRead failed: {exc or type(exc).__name__}")
                self._release(track)
                continue
            plan = plan_backfill(floor, history, max_values=self.connection.history_max_values, more=more)
            if not plan.reaches_back:
                end = source_time(plan.values[0]) if plan.values else until
                self._gap(track, floor, end or until, "the server's history does not reach back to the last value")
            for dv in plan.values:
                reading = to_reading(track.sig, dv)
                track.seen.add(reading.ts)
                self._deliver(track, reading)
            if plan.truncated:
                self._gap(track, source_time(plan.values[-1]) or floor, until,
                          f"more than history_max_values={self.connection.history_max_values} values to read back")
            filled += len(plan.values)
            self._stats.count("opcua.backfilled", len(plan.values))
            self._release(track)
        if filled:
            log.info("OPC UA %s: read back %d values from the server's history", self.name, filled)

    def _abandon_catch_up(self, floors: dict[str, datetime], until: datetime) -> None:
        """The session ended before some gaps were read back: emit what was held, say what is missing."""
        for node, floor in floors.items():
            track = self._tracks[node]
            if track.held is None:
                continue
            if any(r.ts > floor for r in track.held):
                # Emitting these moves the node past its gap, so the next session cannot fill it.
                self._gap(track, floor, until, "the gap could not be read back")
            self._release(track)

    def _release(self, track: _Track) -> None:
        """End a node's catch-up: emit its held live values, except source times already emitted."""
        held, seen = track.held, track.seen
        track.held, track.seen = None, set()
        for reading in held or ():
            if reading.ts not in seen:
                seen.add(reading.ts)
                self._deliver(track, reading)

    def _gap(self, track: _Track, start: datetime, end: datetime, reason: str) -> None:
        gap = Gap(track.sig.asset, track.sig.name, track.node, start, end, reason)
        self._gaps.append(gap)
        self._stats.count("opcua.gaps")
        log.warning("OPC UA %s: gap in %s/%s (%s) from %s to %s: %s", self.name, track.sig.asset, track.sig.name,
                    track.node, start.isoformat(), end.isoformat(), reason)

    def _deliver(self, track: _Track, reading: Reading) -> None:
        self._emit(reading)
        if track.last_ts is None or reading.ts > track.last_ts:
            track.last_ts = reading.ts

    def _notify(self, node: Node, data: DataChangeNotif) -> None:
        track = self._tracks.get(node.nodeid.to_string())
        if track is None:
            return
        reading = to_reading(track.sig, data.monitored_item.Value)
        if track.held is not None:
            track.held.append(reading)
        else:
            self._deliver(track, reading)


def _offers(endpoints: Sequence[ua.EndpointDescription]) -> str:
    """Endpoints as `Basic256Sha256 SignAndEncrypt, None None`."""
    return ", ".join(sorted({f"{ep.SecurityPolicyUri.rsplit('#', 1)[-1]} {ep.SecurityMode.name}"
                             for ep in endpoints})) or "nothing"


def _server_cert(data: bytes) -> Any:
    """The first certificate of a server's DER certificate (chain), for `Client.set_security`."""
    from asyncua.crypto import uacrypto

    return uacrypto.CertProperties(uacrypto.der_from_x509(uacrypto.x509_from_der(data)), extension="der")


_EXPLAINED = {
    ua.StatusCodes.BadUserAccessDenied: "the server refused the user name or password (BadUserAccessDenied)",
    ua.StatusCodes.BadIdentityTokenRejected: "the server does not accept this kind of user identity "
                                             "(BadIdentityTokenRejected)",
    ua.StatusCodes.BadIdentityTokenInvalid: "the server found the user identity invalid (BadIdentityTokenInvalid)",
    ua.StatusCodes.BadSecurityChecksFailed: "the server refused our certificate (BadSecurityChecksFailed): "
                                            "trust our certificate on the server (`twin certs show`)",
    ua.StatusCodes.BadCertificateUntrusted: "the server does not trust our certificate (BadCertificateUntrusted): "
                                            "trust it on the server (`twin certs show`)",
}


def _explained(exc: ua.UaStatusCodeError, conn: OpcUaConnection) -> Exception:
    """A status code from connecting, as an error a user can act on."""
    text = _EXPLAINED.get(exc.code)
    if text is None:
        same: Exception = exc
        return same
    if exc.code == ua.StatusCodes.BadUserAccessDenied and conn.user_certificate is not None:
        text = "the server refused the user certificate (BadUserAccessDenied)"
    who = f" (user {conn.username})" if conn.username else \
        f" (user certificate {conn.user_certificate.certificate})" if conn.user_certificate else ""
    return OpcUaSecurityError(f"{text}{who}")


def _history_readable(level: ua.DataValue) -> bool:
    """Whether a node's AccessLevel (Part 3 §5.6.2) has the HistoryRead bit."""
    if level.StatusCode is not None and not level.StatusCode.is_good():
        return False
    value = level.Value.Value if level.Value is not None else None
    return isinstance(value, int) and bool(value & ua.AccessLevel.HistoryRead.mask)


def _nowhere(reading: Reading) -> None:
    raise RuntimeError("OpcUaSource emitted before run()")


class _Handler:
    """asyncua subscription handler: hands each data change to the source."""

    def __init__(self, source: OpcUaSource) -> None:
        self._source = source

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._source._notify(node, data)

    def status_change_notification(self, status: Any) -> None:
        log.warning("OPC UA %s: subscription status changed: %s", self._source.name, status)
