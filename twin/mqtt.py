"""A small asyncio MQTT client over paho-mqtt 2.x, with what the pipeline needs.

paho is the reference Python MQTT client; this wrapper adds, and only adds:
- a network thread that reconnects fast (≤ 0.5 s apart) for the first two minutes of an
  outage, then with capped exponential backoff and jitter (twin.backoff.ReconnectPolicy;
  paho's own reconnect delay has no jitter);
- `await publish(...)` that returns when the broker acknowledged a QoS 1 message
  (PUBACK), which is what lets the edge queue forget a reading;
- manual acknowledgement of received messages (paho 2.x `manual_ack_set`), so ingest
  acknowledges only after the database accepted the write;
- persistent sessions (MQTT v5 clean_start=False + session expiry), so a crashed
  consumer gets its unacknowledged messages again;
- subscriptions remembered and renewed on every (re)connect.

paho callbacks run on the network thread; every one hands over to the event loop with
`call_soon_threadsafe`, so all state below is touched by the event loop only.

Only the network thread touches the socket. paho, when no thread of its own runs its loop
(we run `loop()` ourselves) and no external-loop callback is registered, writes a packet
from the thread that calls `publish()`/`subscribe()`/`ack()`/`disconnect()` — here the event
loop — while the network thread may be reading or writing the same socket in `loop()`. On
plain TCP that can interleave two packets' bytes; on TLS, two threads driving one OpenSSL
connection corrupt its records, and the broker drops the connection with "bad record
mac". Registering `on_socket_register_write` makes paho only queue the packet and wake the
network thread's select through its socket pair; that thread then writes it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from twin.backoff import Backoff, ReconnectPolicy
from twin.errors import TwinError
from twin.settings import MqttEndpoint, TlsOptions

log = logging.getLogger(__name__)


# How long one subscribe attempt waits for its SUBACK when the caller waits forever.
SUBACK_RETRY_S = 30.0


class MqttError(TwinError):
    """The broker refused or could not be reached in time."""


class NotDelivered(MqttError):
    """The broker acknowledged a publish with a reason code that says it did not deliver it.

    PUBACK 0x10 "no matching subscribers" (MQTT 5.0 §3.4.2.1) is what Mosquitto answers
    after a restart that restored a session without its shared subscription: the message
    is dropped, so a publisher that must not lose it treats it as a failure, like ≥ 0x80.
    """

    def __init__(self, message: str, *, reason_code: int) -> None:
        super().__init__(message)
        self.reason_code = reason_code


@dataclass(frozen=True, slots=True)
class Will:
    """Last will: published by the broker when this client vanishes without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    """A received message; pass it to `MqttClient.ack` once it is safely handled."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int


def tls_context(options: TlsOptions) -> ssl.SSLContext:
    """A client TLS context: the broker's certificate always checked, its host name unless `insecure`.

    Files that cannot be read or do not match raise MqttError naming the file (not its content).
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        if options.ca_file is not None:
            ctx.load_verify_locations(cafile=str(options.ca_file))
        if options.cert_file is not None:
            ctx.load_cert_chain(str(options.cert_file),
                                str(options.key_file) if options.key_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise MqttError(f"TLS setup failed ({type(exc).__name__}: {exc}); check TWIN_MQTT_CA_FILE "
                        f"({options.ca_file}), TWIN_MQTT_CERT_FILE ({options.cert_file}) and "
                        f"TWIN_MQTT_KEY_FILE ({options.key_file})") from None
    if options.insecure:
        ctx.check_hostname = False  # the certificate chain is still verified (CERT_REQUIRED)
    ctx.sslsocket_class = _ClosingSSLSocket
    return ctx


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSL socket that closes itself when its handshake fails.

    paho leaves a socket whose handshake failed (a refused certificate) to the garbage
    collector, and every retry would leak one until then (a ResourceWarning each).
    """

    def do_handshake(self, block: bool = False) -> None:
        """Handshake; on failure close the socket before raising."""
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _network_thread_writes(client: paho.Client, userdata: Any, sock: Any) -> None:
    """paho's external-loop hook; its presence alone stops paho writing from the caller's thread."""


class MqttClient:
    """Async context manager owning one paho client and its network thread."""

    def __init__(
        self,
        *,
        endpoint: MqttEndpoint,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        persistent_session: bool = False,
        session_expiry_s: int = 3600,
        manual_ack: bool = False,
        receive_maximum: int = 100,
        max_inflight: int = 100,
        keepalive_s: int = 30,
        will: Will | None = None,
        backoff: Backoff | ReconnectPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.persistent_session = persistent_session
        self.session_expiry_s = session_expiry_s
        self.manual_ack = manual_ack
        self.receive_maximum = receive_maximum
        self.keepalive_s = keepalive_s
        # Fast retries first (a broker restart is back within seconds), then backoff with jitter.
        self._backoff: Backoff | ReconnectPolicy = backoff or ReconnectPolicy()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if endpoint.tls:
            self._client.tls_set_context(tls_context(endpoint.tls_options or TlsOptions()))
            if endpoint.tls_options is not None and endpoint.tls_options.insecure:
                log.warning("mqtt %s: TWIN_MQTT_TLS_INSECURE is set: the broker's host name is NOT verified",
                            client_id)
        # Writes go through the network thread only (see the module docstring).
        self._client.on_socket_register_write = _network_thread_writes
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.manual_ack_set(manual_ack)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._flush = threading.Event()
        self._connected = asyncio.Event()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._strict: set[int] = set()  # publishes for which "no matching subscribers" is a failure
        self._suback_mids: set[int] = set()  # subscribes waiting for their SUBACK
        self.refused_publishes = 0
        self._subscriptions: dict[str, int] = {}
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.connects = 0
        self.last_error: str | None = None
        self._refused: str | None = None  # why the broker refused the current attempt (network thread)
        self._warned: str | None = None  # the refusal last logged, so fast retries do not repeat it

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> MqttClient:
        if self._thread is not None:
            raise RuntimeError("MqttClient is not reentrant")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._network, name=f"mqtt-{self.client_id}", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._client.is_connected():
            # A clean DISCONNECT: the broker does not publish the will. paho only queues it; the
            # network thread writes it once `_flush` says it is queued.
            self._client.disconnect()
        self._flush.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
            if not self._thread.is_alive():
                # Close the broker socket and paho's wake-up socket pair now: paho leaves them to
                # its __del__, and a socket closed by the garbage collector is a ResourceWarning
                # at a random later moment. (The network thread has stopped: nothing else uses them.)
                self._client._reset_sockets()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(MqttError("client closed before the broker acknowledged"))
        self._pending.clear()

    @property
    def is_connected(self) -> bool:
        """True while a session with the broker is up."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait for the broker; MqttError after `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError:
            raise MqttError(
                f"no connection to MQTT broker {self.endpoint.host}:{self.endpoint.port} "
                f"after {timeout_s} s (last error: {self.last_error or 'none'})"
            ) from None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise MqttError("MqttClient used outside `async with`")
        return self._loop

    # -- publish / subscribe / ack ---------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                      timeout_s: float | None = None, require_subscriber: bool = False) -> None:
        """Publish and return when the broker has it (PUBACK for QoS 1, sent for QoS 0).

        A PUBACK reason code ≥ 0x80 (quota exceeded, not authorised, ...) raises NotDelivered;
        with `require_subscriber`, so does 0x10 "no matching subscribers" (the message was dropped).
        """
        await self.wait_connected(timeout_s)
        fut: asyncio.Future[None] = self._running_loop().create_future()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
        # No await between publish() and registering the future: on_publish reaches us
        # through call_soon_threadsafe, so it cannot run before this line.
        self._pending[info.mid] = fut
        if require_subscriber:
            self._strict.add(info.mid)
        try:
            async with asyncio.timeout(timeout_s):
                await fut
        except TimeoutError:
            self._pending.pop(info.mid, None)
            raise MqttError(f"no PUBACK for {topic!r} within {timeout_s} s") from None
        finally:
            self._strict.discard(info.mid)

    async def subscribe(self, topic_filter: str, qos: int = 1, *, timeout_s: float | None = 30.0
                        ) -> Callable[[], None]:
        """Subscribe, now and after every reconnect; returns once the broker confirmed (SUBACK).

        Returns the matching unsubscribe. Waiting for SUBACK matters: a caller that says
        "ready" before it, can miss the first messages published right after.
        """
        self._subscriptions[topic_filter] = qos
        while True:
            try:
                await self._subscribe_once(topic_filter, qos, timeout_s)
                break
            except MqttError:
                # timeout_s=None: wait for the broker however long it takes. A connection lost
                # before the SUBACK fails the attempt; the next one goes out on the new connection.
                if timeout_s is not None or self._stopping.is_set():
                    raise

        def unsubscribe() -> None:
            if self._subscriptions.pop(topic_filter, None) is not None and self.is_connected:
                self._client.unsubscribe(topic_filter)

        return unsubscribe

    async def _subscribe_once(self, topic_filter: str, qos: int, timeout_s: float | None) -> None:
        await self.wait_connected(timeout_s)
        fut: asyncio.Future[None] = self._running_loop().create_future()
        rc, mid = self._client.subscribe(topic_filter, qos)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"subscribe to {topic_filter!r} failed: {paho.error_string(rc)}")
        self._pending[mid] = fut  # resolved by on_subscribe, via the event loop like on_publish
        self._suback_mids.add(mid)
        try:
            async with asyncio.timeout(timeout_s if timeout_s is not None else SUBACK_RETRY_S):
                await fut
        except TimeoutError:
            self._pending.pop(mid, None)
            raise MqttError(f"no SUBACK for {topic_filter!r} within {timeout_s or SUBACK_RETRY_S} s") from None
        finally:
            self._suback_mids.discard(mid)

    def ack(self, message: Message) -> None:
        """Acknowledge a received QoS 1 message (manual-ack mode only)."""
        if self.manual_ack and message.qos > 0:
            self._client.ack(message.mid, message.qos)

    # -- network thread --------------------------------------------------------------------

    def _network(self) -> None:
        first = True
        while not self._stopping.is_set():
            self._refused = None
            try:
                if first:
                    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                    props.ReceiveMaximum = self.receive_maximum
                    if self.persistent_session:
                        props.SessionExpiryInterval = self.session_expiry_s
                    self._client.connect(
                        self.endpoint.host, self.endpoint.port, keepalive=self.keepalive_s,
                        clean_start=not self.persistent_session, properties=props,
                    )
                    first = False
                else:
                    self._client.reconnect()
                while not self._stopping.is_set():
                    rc = self._client.loop(timeout=0.2)
                    if rc != paho.MQTT_ERR_SUCCESS:
                        # A refused CONNACK says more than the closed socket that follows it.
                        self.last_error = self._refused or paho.error_string(rc)
                        break
            except ssl.SSLCertVerificationError as exc:
                self.last_error = (f"TLS: the broker's certificate was refused ({exc.verify_message}); "
                                   "check TWIN_MQTT_CA_FILE and the host name in TWIN_MQTT_URL")
            except OSError as exc:
                self.last_error = str(exc)
            if self._stopping.is_set():
                break
            delay = self._backoff.next_delay()
            log.info("mqtt %s: reconnecting to %s:%s in %.1f s (%s)", self.client_id,
                     self.endpoint.host, self.endpoint.port, delay, self.last_error)
            self._stopping.wait(delay)
        # Write the DISCONNECT that __aexit__ queues (and anything queued before it), for up to 1 s.
        self._flush.wait(1.0)
        deadline = time.monotonic() + 1.0
        while self._client.want_write() and time.monotonic() < deadline:
            if self._client.loop(timeout=0.05) != paho.MQTT_ERR_SUCCESS:
                break

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            hint = (" (check TWIN_MQTT_USERNAME / TWIN_MQTT_PASSWORD)"
                    if reason.value in (0x86, 0x87) else "")  # bad user name or password, not authorized
            self.last_error = self._refused = f"broker refused connection: {reason}{hint}"
            if self._refused != self._warned:  # once, not on every fast retry
                log.warning("mqtt %s: %s", self.client_id, self.last_error)
                self._warned = self._refused
            return
        self._warned = None
        self._backoff.reset()
        # Renew subscriptions on every connect: the broker may have dropped the session.
        for topic_filter, qos in list(self._subscriptions.items()):
            client.subscribe(topic_filter, qos)
        self._call(self._set_connected, True)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        self.last_error = f"disconnected: {reason}"
        self._call(self._set_connected, False)

    def _set_connected(self, up: bool) -> None:
        if up:
            self.connects += 1
            self._connected.set()
        else:
            self._connected.clear()
            # A SUBACK cannot arrive on a connection that is gone: fail those waits now (the
            # subscription itself is renewed on the next connect).
            for mid in list(self._suback_mids):
                self._fail(mid, "connection lost before the broker confirmed the subscription")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        message = Message(msg.topic, bytes(msg.payload), msg.qos, msg.retain, msg.mid)
        self._call(self.messages.put_nowait, message)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        self._call(self._published, mid, int(reason.value), str(reason))

    def _published(self, mid: int, code: int, name: str) -> None:
        if code >= 0x80 or (code == 0x10 and mid in self._strict):
            self.refused_publishes += 1
            fut = self._pending.pop(mid, None)
            if fut is not None and not fut.done():
                fut.set_exception(NotDelivered(f"broker did not deliver: PUBACK reason {code:#04x} ({name})",
                                               reason_code=code))
            if code >= 0x80:
                log.warning("mqtt %s: broker refused a publish: %s (%#04x)", self.client_id, name, code)
            return
        self._resolve(mid)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Any) -> None:
        failures = [str(r) for r in reasons if r.is_failure]
        if failures:
            self._call(self._fail, mid, f"broker refused the subscription: {', '.join(failures)}")
        else:
            self._call(self._resolve, mid)

    def _fail(self, mid: int, reason: str) -> None:
        fut = self._pending.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_exception(MqttError(reason))

    def _resolve(self, mid: int) -> None:
        fut = self._pending.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(None)
