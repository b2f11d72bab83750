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

Decoders of wire bytes (here, `twin.events`, `ingest.schema`, the alert manager's edge
status watcher) are total: for any bytes they return a value or raise PayloadError.
The limits they share and the checks that apply them are defined once, below.
"""

from __future__ import annotations

import enum
import json
import math
import re
import reprlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from twin.errors import PayloadError
from twin.topics import AssetPath

PAYLOAD_VERSION: Final = 1
Value = float | int | bool | str | None

# -- Limits of every wire decoder ---------------------------------------------------------
# A decoder of MQTT bytes returns a value or raises PayloadError, for any input: one
# hostile message must cost one dead letter, never a crashed service. These bounds are
# checked before a value reaches InfluxDB, SQLite, a notifier or an analytic; the
# telemetry, alert-event and edge-status decoders all use them.

# MQTT allows up to 256 MB per packet (MQTT 5.0 §1.5.5, Variable Byte Integer); refuse
# before parsing.
# A full edge batch (500 readings) is about 45 kB, so 1 MiB leaves 20× headroom.
MAX_PAYLOAD_BYTES: Final = 1 << 20
# InfluxDB limits a string field to 64 KiB (line protocol reference, "Data types").
MAX_TEXT_BYTES: Final = 64 * 1024
# Names that are not plant identifiers but end up in tags, keys and messages: status
# code names (OPC UA's are a few dozen characters), agent and source names, alert
# sources and kinds, edge states.
MAX_LABEL_BYTES: Final = 256
# An alert key or asset path is built from a few labels ("edge:{agent}:source:{name}").
MAX_KEY_BYTES: Final = 1024
# An alert message is one human-readable sentence for a notification.
MAX_MESSAGE_BYTES: Final = 8 * 1024
# Alert details are stored with the alert (SQLite) and served by the API: small and
# shallow. Depth is bounded because a structure json.loads just managed to nest can
# hit the recursion limit when json.dumps meets it again deeper in the call stack.
MAX_DETAILS_BYTES: Final = 64 * 1024
MAX_DETAILS_DEPTH: Final = 8
# An edge status names each of its sources; each becomes its own alert condition.
MAX_EDGE_SOURCES: Final = 1024
# The longest RFC 3339 time is about 35 characters (nanoseconds and an offset); a
# bound also keeps a hostile string out of the error message.
MAX_TS_CHARS: Final = 64
# InfluxDB's integers are signed 64-bit, and a larger int does not fit a float either.
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
# InfluxDB stores int64 nanoseconds since the epoch: 1677-09-21T00:12:43.145224194Z to
# 2262-04-11T23:47:16.854775806Z. A conservative inner range, [TS_MIN, TS_MAX).
TS_MIN: Final = datetime(1678, 1, 1, tzinfo=UTC)
TS_MAX: Final = datetime(2262, 1, 1, tzinfo=UTC)
# Plant identifiers (copied from twin.plant, which core modules must not import): they
# become MQTT topic levels and InfluxDB tag values. fullmatch, so "$" cannot match
# before a trailing newline.
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_ID = re.compile(ID_PATTERN)

_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 40


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


def parse_ts(text: object) -> datetime:
    """Parse a zone-aware RFC 3339 / ISO 8601 time to UTC; ValueError for anything else.

    Naive times are rejected (they are ambiguous), and so are times InfluxDB cannot store
    (outside [TS_MIN, TS_MAX)), including those whose conversion to UTC overflows
    (0001-01-01T00:00:00+01:00).
    """
    if not isinstance(text, str):
        raise ValueError(f"timestamp must be a string, got {type(text).__name__}")
    if len(text) > MAX_TS_CHARS:
        raise ValueError(f"timestamp of {len(text)} characters is too long (at most {MAX_TS_CHARS})")
    try:
        ts = datetime.fromisoformat(text)
        if ts.tzinfo is None:
            raise ValueError(f"timestamp {text!r} has no time zone")
        ts = ts.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {text!r} is out of range") from None
    if not TS_MIN <= ts < TS_MAX:
        raise ValueError(f"timestamp {text!r} is outside {format_ts(TS_MIN)} .. {format_ts(TS_MAX)}")
    return ts


def load_object(payload: bytes, what: str) -> dict[str, Any]:
    """Parse a payload that must be one JSON object; PayloadError for any other bytes.

    RFC 8259 §8.1: JSON between systems is UTF-8 without a byte order mark. json.loads
    would guess UTF-16/32 from bytes and accept encoded lone surrogates, so decode here.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{what} of {len(payload)} bytes is too large (at most {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{what} is not JSON: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise PayloadError(f"{what} is not JSON: it starts with a byte order mark")
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"{what} is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(f"{what} is not JSON this service accepts: nested too deeply") from None
    except ValueError as exc:  # int(): more digits than sys.get_int_max_str_digits()
        raise PayloadError(f"{what} is not JSON this service accepts: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError(f"{what} must be a JSON object")
    return body


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and ±Infinity; they are not JSON (RFC 8259 §6) and InfluxDB
    # cannot store them. (1e999 still parses as inf: check_value catches that.)
    raise PayloadError(f"not JSON: {name} is not a JSON number")


def check_version(body: dict[str, Any], expected: int, what: str) -> None:
    """The body's "v" must be exactly the int `expected` (True == 1 and 1.0 == 1 in Python)."""
    v = body.get("v")
    if type(v) is not int or v != expected:
        raise PayloadError(f"unsupported {what} version {show(v)}; expected {expected}")


def check_text(where: str, value: object, max_bytes: int, *, empty: bool = False, multiline: bool = False) -> str:
    """A string of at most `max_bytes` bytes of UTF-8, one line unless `multiline`.

    JSON can carry lone surrogates, which cannot be encoded (writing them would fail far
    from here). Line protocol cannot carry a newline in a field value (InfluxDB line
    protocol reference) and Point does not escape one there, so one text value would
    make InfluxDB refuse a whole batch.
    """
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string, got {_type(value)}")
    if not value and not empty:
        raise PayloadError(f"{where} must not be empty")
    if len(value) > max_bytes:
        raise PayloadError(f"{where} is longer than {max_bytes} bytes")
    if not multiline and ("\n" in value or "\r" in value):
        raise PayloadError(f"{where} must be one line (no CR or LF)")
    if not value.isascii():
        try:
            size = len(value.encode())
        except UnicodeEncodeError:
            raise PayloadError(f"{where} is not valid Unicode (a lone surrogate)") from None
        if size > max_bytes:
            raise PayloadError(f"{where} is longer than {max_bytes} bytes")
    return value


def check_ident(where: str, value: object) -> str:
    """A plant identifier (ID_PATTERN): what a signal or an asset path level may be."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PayloadError(f"{where} must be a plant identifier ({ID_PATTERN}), got {show(value)}")
    return value


def check_value(where: str, value: object) -> Value:
    """A reading value: null, a boolean, a finite number within int64/float range, or a string InfluxDB can store."""
    if isinstance(value, float):  # the common case first
        if not math.isfinite(value):  # 1e999 parses as inf
            raise PayloadError(f"{where} must be finite, got {value}")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise PayloadError(f"{where} is outside the signed 64-bit integer range")
    elif isinstance(value, str):
        check_text(where, value, MAX_TEXT_BYTES, empty=True)
    else:
        raise PayloadError(f"{where} must be a number, boolean, string or null, got {_type(value)}")
    return value


def check_number(where: str, value: object) -> float:
    """A finite number (not a boolean) as a float: a counter or a measurement."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PayloadError(f"{where} must be a number, got {_type(value)}")
    check_value(where, value)
    return float(value)


def check_ts(where: str, value: object) -> datetime:
    """A source timestamp (parse_ts); PayloadError naming `where` if it is not one."""
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise PayloadError(f"{where} is not an RFC 3339 timestamp: {exc}") from None


def check_asset(where: str, value: object, *, plant: bool = True) -> AssetPath:
    """An asset path; with `plant`, each level must be a plant identifier (telemetry), else a bounded label."""
    text = check_text(where, value, MAX_KEY_BYTES)
    try:
        asset = AssetPath.parse(text)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    if plant:
        for level in (asset.site, asset.area, asset.line, asset.asset):
            check_ident(where, level)
    return asset


def check_details(where: str, value: object) -> dict[str, Any]:
    """A small, shallow JSON object of valid values (alert details)."""
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object, got {_type(value)}")
    _check_tree(where, value, MAX_DETAILS_DEPTH)
    if len(json.dumps(value)) > MAX_DETAILS_BYTES:  # ASCII (ensure_ascii), so characters are bytes
        raise PayloadError(f"{where} is larger than {MAX_DETAILS_BYTES} bytes as JSON")
    return value


def _check_tree(where: str, value: object, depth: int) -> None:
    if isinstance(value, dict | list):
        if depth == 0:
            raise PayloadError(f"{where} is nested deeper than {MAX_DETAILS_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                check_text(f"{where} key", key, MAX_LABEL_BYTES, empty=True, multiline=True)
                _check_tree(f"{where}.{key}", item, depth - 1)
        else:
            for i, item in enumerate(value):
                _check_tree(f"{where}[{i}]", item, depth - 1)
    elif isinstance(value, str):
        check_text(where, value, MAX_DETAILS_BYTES, empty=True, multiline=True)  # not line protocol: SQLite, JSON
    else:
        check_value(where, value)


def show(value: object) -> str:
    """A short repr of a wire value for an error message (a hostile value may be a megabyte)."""
    try:
        return _SHOW.repr(value)
    except ValueError:  # an int too long to convert to text
        return f"<{_type(value)}>"


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def encode(asset: AssetPath, readings: list[Reading], *, agent: str) -> bytes:
    """Encode readings of one asset into one telemetry payload."""
    body = {
        "v": PAYLOAD_VERSION,
        "asset": str(asset),
        "agent": agent,
        "readings": [r.to_json() for r in readings],
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class Receipt:
    """Who sent a telemetry message and which one: what ingest acknowledges end to end.

    The edge agent numbers its messages (`boot`: random per agent process, `seq`: 1, 2, ...)
    and forgets readings only when ingest says they are in the database (edge_agent/agent.py).
    """

    agent: str
    boot: str
    seq: int


def receipt_of(body: dict[str, Any]) -> Receipt | None:
    """The (agent, boot, seq) of a decoded telemetry body, or None when it carries none (or a bad one)."""
    agent, boot, seq = body.get("agent"), body.get("boot"), body.get("seq")
    if (isinstance(agent, str) and isinstance(boot, str) and type(seq) is int and 0 < seq <= INT64_MAX
            and _ID.fullmatch(agent) and _ID.fullmatch(boot)):
        return Receipt(agent, boot, seq)
    return None


def peek_receipt(payload: bytes) -> Receipt | None:
    """The receipt of a message that may be anything (a dead letter): never raises."""
    try:
        return receipt_of(load_object(payload, "payload"))
    except PayloadError:
        return None


def decode(payload: bytes, *, expected_asset: AssetPath | None = None) -> list[Reading]:
    """Decode a telemetry payload; PayloadError, and only PayloadError, says exactly what is wrong."""
    return decode_message(payload, expected_asset=expected_asset)[0]


def decode_message(payload: bytes, *, expected_asset: AssetPath | None = None) -> tuple[list[Reading], Receipt | None]:
    """Decode a telemetry payload into its readings and its receipt (None without one)."""
    body = load_object(payload, "payload")
    check_version(body, PAYLOAD_VERSION, "payload")
    if "asset" not in body:
        raise PayloadError("missing 'asset'")
    asset = check_asset("asset", body["asset"])
    if expected_asset is not None and asset != expected_asset:
        raise PayloadError(f"payload asset {asset} does not match topic asset {expected_asset}")
    if "agent" in body:
        check_text("agent", body["agent"], MAX_LABEL_BYTES)
    items = body.get("readings")
    if not isinstance(items, list) or not items:
        raise PayloadError("'readings' must be a non-empty list")
    signals: set[str] = set()  # a batch repeats its few signals: check each name once
    return [_decode_reading(asset, i, item, signals) for i, item in enumerate(items)], receipt_of(body)


def _decode_reading(asset: AssetPath, index: int, item: Any, signals: set[str]) -> Reading:
    where = f"readings[{index}]"
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be an object")
    signal = item.get("signal")
    if not isinstance(signal, str) or not signal:
        raise PayloadError(f"{where}.signal must be a non-empty string")
    if signal not in signals:
        signals.add(check_ident(f"{where}.signal", signal))
    raw_ts = item.get("ts")
    if raw_ts is None:
        raise PayloadError(f"{where}.ts is missing")
    ts = check_ts(f"{where}.ts", raw_ts)
    value = check_value(f"{where}.value", item.get("value"))
    try:
        quality = Quality(item.get("quality", "good"))
    except ValueError:
        raise PayloadError(f"{where}.quality must be one of good, uncertain, bad") from None
    status = item.get("status")
    if status is not None:
        check_text(f"{where}.status", status, MAX_LABEL_BYTES)
    return Reading(asset, signal, ts, value, quality, status)
