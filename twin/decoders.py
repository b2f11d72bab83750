"""Decoders for the stream consumer: wire messages → values, checked against the plant model.

The plant file is the schema of the stream: a reading of an asset or signal it does not
name is refused (a dead letter, replayable once the plant file has it), so a message can
never create InfluxDB series outside the plant's assets and signals. A decoder built
without a plant (`plant=None`) admits every well-formed message; services run with one.
"""

from __future__ import annotations

from twin import topics
from twin.consumer import Decoded, Decoder, Rejected
from twin.errors import PayloadError
from twin.events import AlertEvent
from twin.mqtt import Message
from twin.plant import Plant
from twin.readings import Reading, Receipt, decode_message, encode
from twin.topics import AssetPath

EDGE_STATUS = "edge_status"


def kind_of(topic: str) -> str:
    """The kind of a topic: an asset kind (telemetry, alerts, ...) or `edge_status`; PayloadError otherwise."""
    parts = topic.split("/")
    if len(parts) == 6 and f"{parts[0]}/{parts[1]}/{parts[2]}" == topics.SYS and parts[3] == "edge" \
            and parts[5] == "status":
        return EDGE_STATUS
    try:
        return topics.parse_asset_topic(topic)[1]
    except ValueError as exc:
        raise PayloadError(str(exc)) from None


def asset_of(topic: str, plant: Plant | None) -> AssetPath:
    """The asset of an asset topic, which must be in the plant; PayloadError otherwise."""
    try:
        asset, _ = topics.parse_asset_topic(topic)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    if plant is not None and not plant.knows(asset):
        raise PayloadError(f"asset {asset} is not in the plant file")
    return asset


def telemetry_with_receipt(plant: Plant | None) -> Decoder[tuple[list[Reading], Receipt | None]]:
    """Telemetry messages → their readings of the plant's signals, and the sender's receipt.

    Readings of other signals are refused (one dead letter with just those readings); the
    value is None when no reading is left, but the receipt still comes with the message.
    """

    def decode_telemetry(message: Message) -> Decoded[tuple[list[Reading], Receipt | None]]:
        asset = asset_of(message.topic, plant)
        readings, receipt = decode_message(message.payload, expected_asset=asset)
        if plant is None:
            return Decoded((readings, receipt))
        known = [r for r in readings if plant.knows(asset, r.signal)]
        if len(known) == len(readings):
            return Decoded((readings, receipt))
        unknown = [r for r in readings if not plant.knows(asset, r.signal)]
        names = ", ".join(sorted({r.signal for r in unknown}))
        rejected = Rejected(encode(asset, unknown, agent="deadletter"),
                            f"signal(s) {names} of asset {asset} are not in the plant file")
        return Decoded((known, receipt), [rejected])

    return decode_telemetry


def telemetry(plant: Plant | None) -> Decoder[list[Reading]]:
    """Telemetry messages → their readings of the plant's signals; readings of other signals are refused."""
    with_receipt = telemetry_with_receipt(plant)

    def decode_telemetry(message: Message) -> Decoded[list[Reading]]:
        decoded = with_receipt(message)
        readings = decoded.value[0] if decoded.value is not None else []
        return Decoded(readings or None, decoded.rejected)

    return decode_telemetry


def alert_events(plant: Plant | None) -> Decoder[AlertEvent]:
    """Alert events about the plant's assets (on the asset's own alerts topic)."""

    def decode_event(message: Message) -> Decoded[AlertEvent]:
        asset = asset_of(message.topic, plant)
        event = AlertEvent.decode(message.payload)
        if event.asset != asset:
            raise PayloadError(f"event asset {event.asset} does not match topic asset {asset}")
        return Decoded(event)

    return decode_event
