"""The one stream consumer: consume → decode → dead-letter → write → acknowledge, for every service.

Ingest, the analytics runner and the alert service each are a `StreamConsumer` with their
own subscriptions, decoder and sink; the loop and its failure handling are written here
once:

- **Decode once, bounded.** A payload over `MAX_PAYLOAD_BYTES` is refused before it is
  parsed. The decoder turns a message into a value for the sink and may reject parts of
  it (readings of a signal the plant file does not have): each rejected part is a dead
  letter of its own, so tag cardinality stays bounded by the plant file.
- **One message never stops a service.** Anything a decoder raises — a PayloadError or a
  bug — dead-letters that message with the reason. A sink that raises on a batch is
  retried message by message, and the message it still refuses is dead-lettered. Either
  way the message is acknowledged, so a poison message is handled once, not redelivered
  after every restart.
- **Outages are waited out.** A sink raises `Retryable` for a transient failure (database
  down); the same batch is retried with capped, jittered backoff, unacknowledged, for as
  long as it takes. Subscribing waits for the broker however long it is away.
- **Acknowledged last.** Messages are PUBACKed in arrival order (MQTT 5.0 §4.6) only once
  each is in the sink or in the dead-letter store (and after the `handled` hook, where
  ingest acknowledges to the edge agents end to end).

CPU-heavy or blocking work belongs in the sink, run with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from twin.backoff import Backoff
from twin.deadletter import DeadLetters
from twin.errors import PayloadError, TwinError
from twin.mqtt import Message, MqttClient
from twin.readings import MAX_PAYLOAD_BYTES
from twin.stats import Stats

log = logging.getLogger(__name__)

T = TypeVar("T")


class Retryable(TwinError):
    """A transient failure of a sink (database away, 5xx): the same batch is tried again later."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A part of a message the decoder refused: `payload` is what the dead letter keeps (replayable)."""

    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class Decoded(Generic[T]):
    """What a decoder made of one message: a value for the sink (None: nothing to write), and refused parts."""

    value: T | None
    rejected: Sequence[Rejected] = ()


@dataclass(frozen=True, slots=True)
class Item(Generic[T]):
    """A decoded message on its way to the sink."""

    message: Message
    value: T


Decoder = Callable[[Message], Decoded[T]]


class Sink(Protocol[T]):
    """Where decoded messages go. Raise `Retryable` only when writing the same items again is safe."""

    async def write(self, items: Sequence[Item[T]]) -> None:
        """Write a batch (in arrival order)."""
        ...


@dataclass(frozen=True, slots=True)
class Subscription:
    """One topic filter the consumer subscribes to."""

    topic_filter: str
    qos: int = 1


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """Batching and retry settings."""

    batch_max_messages: int = 100
    linger_s: float = 0.0  # wait this long for a batch to fill; 0 takes what is queued
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0


class StreamConsumer(Generic[T]):
    """Consumes subscriptions through a decoder into a sink until cancelled; `ready` is set once subscribed."""

    def __init__(self, *, name: str, client: MqttClient, subscriptions: Sequence[Subscription],
                 decoder: Decoder[T], sink: Sink[T], deadletters: DeadLetters, stats: Stats,
                 options: ConsumerOptions = ConsumerOptions(),
                 handled: Callable[[Sequence[Message]], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.client = client
        self.subscriptions = list(subscriptions)
        self.decoder = decoder
        self.sink = sink
        self.deadletters = deadletters
        self.stats = stats
        self.options = options
        # Called with each batch once every message is in the sink or a dead letter, before
        # the broker is acknowledged (ingest tells the edge agents here).
        self.handled = handled
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Subscribe (waiting for the broker as long as it takes), then consume until cancelled."""
        for sub in self.subscriptions:
            await self.client.subscribe(sub.topic_filter, sub.qos, timeout_s=None)
        self.ready.set()
        while True:
            batch = await self._collect()
            await self.handle(batch)

    async def _collect(self) -> list[Message]:
        queue = self.client.messages
        batch = [await queue.get()]
        limit = self.options.batch_max_messages
        while len(batch) < limit and not queue.empty():
            batch.append(queue.get_nowait())
        deadline = time.monotonic() + self.options.linger_s
        while len(batch) < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that races with the result (gh-86296), leaving the service deaf to shutdown.
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await queue.get())
            except TimeoutError:
                break
        return batch

    async def handle(self, batch: Sequence[Message]) -> None:
        """Decode, dead-letter, write and acknowledge one batch of messages."""
        items: list[Item[T]] = []
        for message in batch:
            decoded = await self._decode(message)
            if decoded is None:
                continue
            for part in decoded.rejected:
                await self.deadletters.send(message.topic, part.payload, part.reason)
            if decoded.value is not None:
                items.append(Item(message, decoded.value))
        if items:
            await self._write(items)
        if self.handled is not None:
            await self.handled(batch)
        for message in batch:
            self.client.ack(message)

    async def _decode(self, message: Message) -> Decoded[T] | None:
        self.stats.count("messages_in")
        try:
            if len(message.payload) > MAX_PAYLOAD_BYTES:
                raise PayloadError(f"payload of {len(message.payload)} bytes exceeds the limit of "
                                   f"{MAX_PAYLOAD_BYTES} bytes")
            return self.decoder(message)
        except PayloadError as exc:
            reason = str(exc)
        except RecursionError:
            reason = "payload nested too deeply"
        except Exception as exc:  # a decoder bug must not stop the service: keep the message, carry on
            log.exception("%s: decoder failed on a message from %s", self.name, message.topic)
            reason = f"decoder failed: {type(exc).__name__}: {exc}"
        await self.deadletters.send(message.topic, message.payload, reason)
        return None

    async def _write(self, items: list[Item[T]]) -> None:
        backoff = Backoff(base_s=self.options.retry_base_s, cap_s=self.options.retry_cap_s,
                          floor_s=min(0.1, self.options.retry_base_s))
        while True:
            try:
                await self.sink.write(items)
                return
            except Retryable as exc:
                self.stats.count("write_retries")
                delay = backoff.next_delay()
                log.warning("%s: write failed (%s); retrying in %.1f s", self.name, exc, delay)
                await asyncio.sleep(delay)
            except Exception as exc:  # refused for good, or a sink bug: find the guilty message
                if len(items) > 1:
                    for item in items:
                        await self._write([item])
                    return
                self.stats.count("poison")
                if not isinstance(exc, TwinError):
                    log.exception("%s: handling a message from %s failed", self.name, items[0].message.topic)
                reason = str(exc) if isinstance(exc, TwinError) else f"{type(exc).__name__}: {exc}"
                await self.deadletters.send(items[0].message.topic, items[0].message.payload, reason)
                return
