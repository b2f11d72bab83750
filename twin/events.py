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
from typing import Any

from twin.errors import PayloadError
from twin.readings import format_ts, parse_ts
from twin.topics import AssetPath

EVENT_VERSION = 1


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
        """Parse an event; PayloadError says what is wrong."""
        try:
            body = json.loads(payload)
            if body.get("v") != EVENT_VERSION:
                raise PayloadError(f"unsupported alert event version {body.get('v')!r}")
            return cls(
                asset=AssetPath.parse(body["asset"]), source=str(body["source"]), kind=str(body["kind"]),
                severity=Severity(body["severity"]), state=EventState(body["state"]), key=str(body["key"]),
                message=str(body["message"]), ts=parse_ts(body["ts"]), details=dict(body.get("details") or {}),
            )
        except PayloadError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PayloadError(f"invalid alert event: {type(exc).__name__}: {exc}") from None
