"""The one alert model every source feeds: an alert per (asset, dedup key) condition, and its history.

Lifecycle:

    firing ──ack──► acknowledged ──resolve──► resolved
       └───────────── resolve (auto when the condition clears, or by hand) ──┘

An alert is one condition on one asset, however many events report it: repeated
`firing` events raise `count` and `last_seen`, never a second alert. A resolved alert
that fires again within the re-fire hold-off is reopened (a flap), not duplicated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.events import Severity
from twin.topics import AssetPath

SEVERITY_RANK: dict[Severity, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertState(enum.StrEnum):
    """Where an alert is in its lifecycle."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Action(enum.StrEnum):
    """What happened to an alert (one history entry, and one InfluxDB annotation, each)."""

    OPENED = "opened"
    REOPENED = "reopened"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    COMMENTED = "commented"
    RESOLVED = "resolved"


@dataclass(slots=True)
class Alert:
    """One alert: mutable inside the manager, copied out to callers."""

    id: int
    asset: AssetPath
    source: str
    kind: str
    severity: Severity
    key: str
    message: str
    state: AlertState
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_comment: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    cleared_at: datetime | None = None
    notified_at: datetime | None = None
    escalation: dict[str, int] = field(default_factory=dict)
    flaps: int = 0
    silenced: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Firing or acknowledged: not yet resolved."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One lifecycle event of an alert: who did what, when."""

    alert_id: int
    ts: datetime
    action: Action
    actor: str
    state: AlertState
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification to one channel, and how its delivery went (the delivery log)."""

    id: int
    alert_id: int
    channel: str
    event: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A lifecycle change to write as an InfluxDB annotation."""

    alert: Alert
    action: Action
    actor: str
    ts: datetime
    comment: str | None = None
