"""Normalised readings and the versioned JSON payload that carries them on MQTT.

A telemetry message holds several readings of one asset (batching is what makes the
pipeline fast):

    {"v": 1, "asset": "site/area/line/asset", "agent": "edge-1",
     "readings": [{"signal": "spindle_speed", "ts": "2026-11-26T08:00:00.123456Z",
                   "value": 1200.0, "quality": "good"}, ...]}

`ts` is the source timestamp (RFC 3339, UTC, microseconds). `value` is a number, a
boolean, a string or null (a Bad reading may carry no value). `quality` is good,
uncertain or bad; `status` optionally carries the source's status code name
(e.g. the OPC UA "BadSensorFailure").
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from twin.errors import PayloadError
from twin.topics import AssetPath

PAYLOAD_VERSION: Final = 1
Value = float | int | bool | str | None


class Quality(enum.StrEnum):
    """Data quality, after OPC UA's three StatusCode severities (Part 4, §7.34)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one signal of one asset, stamped at its source."""

    asset: AssetPath
    signal: str
    ts: datetime
    value: Value
    quality: Quality = Quality.GOOD
    status: str | None = None

    @property
    def number(self) -> float | None:
        """The value as a float when the reading is good and a finite number; else None.

        Bad and uncertain values are no evidence either way; booleans, text and missing
        values have no magnitude. What every analytic and rule uses before doing arithmetic.
        """
        value = self.value
        if self.quality is not Quality.GOOD or value is None or isinstance(value, bool | str):
            return None
        x = float(value)
        return x if math.isfinite(x) else None

    def to_json(self) -> dict[str, Any]:
        """The reading as it appears inside a payload (without the asset, which the message carries)."""
        item: dict[str, Any] = {
            "signal": self.signal,
            "ts": format_ts(self.ts),
            "value": self.value,
            "quality": self.quality.value,
        }
        if self.status is not None:
            item["status"] = self.status
        return item


def format_ts(ts: datetime) -> str:
    """RFC 3339 UTC with microseconds: exact for Python datetimes, sortable as text."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp; naive times are rejected (they are ambiguous)."""
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return ts.astimezone(UTC)


def encode(asset: AssetPath, readings: list[Reading], *, agent: str) -> bytes:
    """Encode readings of one asset into one telemetry payload."""
    body = {
        "v": PAYLOAD_VERSION,
        "asset": str(asset),
        "agent": agent,
        "readings": [r.to_json() for r in readings],
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(payload: bytes, *, expected_asset: AssetPath | None = None) -> list[Reading]:
    """Decode a telemetry payload; PayloadError says exactly what is wrong."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError("payload must be a JSON object")
    if body.get("v") != PAYLOAD_VERSION:
        raise PayloadError(f"unsupported payload version {body.get('v')!r}; expected {PAYLOAD_VERSION}")
    try:
        asset = AssetPath.parse(str(body["asset"]))
    except KeyError:
        raise PayloadError("missing 'asset'") from None
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    if expected_asset is not None and asset != expected_asset:
        raise PayloadError(f"payload asset {asset} does not match topic asset {expected_asset}")
    items = body.get("readings")
    if not isinstance(items, list) or not items:
        raise PayloadError("'readings' must be a non-empty list")
    return [_decode_reading(asset, i, item) for i, item in enumerate(items)]


def _decode_reading(asset: AssetPath, index: int, item: Any) -> Reading:
    where = f"readings[{index}]"
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be an object")
    signal = item.get("signal")
    if not isinstance(signal, str) or not signal:
        raise PayloadError(f"{where}.signal must be a non-empty string")
    try:
        ts = parse_ts(item["ts"])
    except KeyError:
        raise PayloadError(f"{where}.ts is missing") from None
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{where}.ts is not an RFC 3339 timestamp: {exc}") from None
    value = item.get("value")
    if value is not None and not isinstance(value, int | float | bool | str):
        raise PayloadError(f"{where}.value must be a number, boolean, string or null")
    if isinstance(value, float) and not math.isfinite(value):
        # Python's json accepts NaN/Infinity; InfluxDB cannot store them, so say so here.
        raise PayloadError(f"{where}.value must be finite, got {value}")
    try:
        quality = Quality(item.get("quality", "good"))
    except ValueError:
        raise PayloadError(f"{where}.quality must be one of good, uncertain, bad") from None
    status = item.get("status")
    if status is not None and not isinstance(status, str):
        raise PayloadError(f"{where}.status must be a string")
    return Reading(asset, signal, ts, value, quality, status)
