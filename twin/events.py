"""Alert events: how analytics (SPC, PdM, energy, rules, connectivity) tell the alert manager.

Published on `twin/v1/{site}/{area}/{line}/{asset}/alerts`, QoS 1, one JSON object each:

    {"v": 1, "asset": "site/area/line/asset", "source": "spc", "kind": "nelson_1",
     "severity": "warning", "state": "firing", "key": "spc:bore_diameter:nelson_1",
     "message": "bore_diameter: 1 point beyond 3σ (Nelson 1)", "ts": "…Z",
     "details": {...}}

`state` is firing or cleared; `key` is the dedup key, stable for one condition on one
asset, so the alert manager raises one alert per condition, not one per sample.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from twin.errors import PayloadError
from twin.readings import (
    MAX_KEY_BYTES,
    MAX_LABEL_BYTES,
    MAX_MESSAGE_BYTES,
    check_asset,
    check_details,
    check_text,
    check_ts,
    check_version,
    format_ts,
    load_object,
    show,
)
from twin.topics import AssetPath

EVENT_VERSION = 1
_E = TypeVar("_E", bound=enum.StrEnum)


class Severity(enum.StrEnum):
    """How urgent: info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventState(enum.StrEnum):
    """Whether the condition holds (firing) or has cleared."""

    FIRING = "firing"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One observation that a condition started, continues, or ended on an asset."""

    asset: AssetPath
    source: str
    kind: str
    severity: Severity
    state: EventState
    key: str
    message: str
    ts: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The event's JSON payload."""
        return json.dumps({
            "v": EVENT_VERSION, "asset": str(self.asset), "source": self.source, "kind": self.kind,
            "severity": self.severity.value, "state": self.state.value, "key": self.key,
            "message": self.message, "ts": format_ts(self.ts), "details": self.details,
        }, separators=(",", ":"), default=str).encode()

    @classmethod
    def decode(cls, payload: bytes) -> AlertEvent:
        """Parse an event; PayloadError, and only PayloadError, says what is wrong."""
        body = load_object(payload, "alert event")
        check_version(body, EVENT_VERSION, "alert event")
        for name in ("asset", "source", "kind", "severity", "state", "key", "message", "ts"):
            if name not in body:
                raise PayloadError(f"invalid alert event: missing {name!r}")
        details = body.get("details")
        return cls(
            asset=check_asset("alert event asset", body["asset"], plant=False),
            source=check_text("alert event source", body["source"], MAX_LABEL_BYTES),
            kind=check_text("alert event kind", body["kind"], MAX_LABEL_BYTES),
            severity=_member(Severity, "severity", body["severity"]),
            state=_member(EventState, "state", body["state"]),
            key=check_text("alert event key", body["key"], MAX_KEY_BYTES),
            message=check_text("alert event message", body["message"], MAX_MESSAGE_BYTES, empty=True),
            ts=check_ts("alert event ts", body["ts"]),
            details={} if details is None else check_details("alert event details", details),
        )


def _member(enum_type: type[_E], name: str, value: object) -> _E:
    if isinstance(value, str):
        try:
            return enum_type(value)
        except ValueError:
            pass
    choices = ", ".join(m.value for m in enum_type)
    raise PayloadError(f"invalid alert event: {name} must be one of {choices}, got {show(value)}")
