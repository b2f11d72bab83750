"""Request and response models of the twin API (what OpenAPI documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analytics.alerts.config import AssetPattern, Channel, Route
from analytics.alerts.model import Alert, AlertState, Delivery, HistoryEntry
from analytics.alerts.store import StoredWindow
from twin.events import Severity


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertOut(BaseModel):
    """An alert: one condition on one asset."""

    id: int
    asset: str = Field(description="site/area/line/asset")
    source: str = Field(description="who raised it: spc, pdm, energy, threshold, connectivity, ...")
    kind: str
    severity: Severity
    key: str = Field(description="dedup key: one alert per (asset, key) while open")
    message: str
    state: AlertState
    first_seen: datetime
    last_seen: datetime
    count: int = Field(description="events that reported this condition")
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_comment: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, description="a token name, or 'system' when it cleared")
    notified_at: datetime | None = None
    escalation: dict[str, int] = Field(description="route name → escalation step reached")
    flaps: int = Field(description="times it re-fired shortly after clearing")
    silenced: bool = Field(description="inside a maintenance window")
    details: dict[str, Any]

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        """From the model."""
        return cls(id=a.id, asset=str(a.asset), source=a.source, kind=a.kind, severity=a.severity, key=a.key,
                   message=a.message, state=a.state, first_seen=a.first_seen, last_seen=a.last_seen, count=a.count,
                   acked_by=a.acked_by, acked_at=a.acked_at, ack_comment=a.ack_comment, resolved_at=a.resolved_at,
                   resolved_by=a.resolved_by, notified_at=a.notified_at, escalation=a.escalation, flaps=a.flaps,
                   silenced=a.silenced, details=a.details)


class HistoryOut(BaseModel):
    """One lifecycle entry."""

    ts: datetime
    action: str
    actor: str
    state: AlertState
    comment: str | None

    @classmethod
    def of(cls, h: HistoryEntry) -> HistoryOut:
        """From the model."""
        return cls(ts=h.ts, action=h.action.value, actor=h.actor, state=h.state, comment=h.comment)


class DeliveryOut(BaseModel):
    """One notification to one channel and how it went."""

    channel: str
    event: str = Field(description="firing, escalation or resolved")
    status: str = Field(description="pending, sent or failed")
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        """From the model."""
        return cls(channel=d.channel, event=d.event, status=d.status, attempts=d.attempts, created_at=d.created_at,
                   sent_at=d.sent_at, last_error=d.last_error)


class AlertDetail(AlertOut):
    """An alert with its history and delivery log."""

    history: list[HistoryOut]
    deliveries: list[DeliveryOut]


class AckIn(_In):
    """Acknowledge: 'I am on it'."""

    comment: str | None = Field(default=None, max_length=2000)


class CommentIn(_In):
    """A note on the alert's history."""

    text: str = Field(min_length=1, max_length=2000)


class ResolveIn(_In):
    """Resolve by hand."""

    comment: str | None = Field(default=None, max_length=2000)


class WindowIn(_In):
    """A maintenance window: alerts of the asset subtree are recorded but nobody is notified."""

    assets: AssetPattern = Field(description="asset path pattern, e.g. plant1/machining/line1/**")
    start: datetime
    end: datetime
    reason: str = ""


class WindowOut(BaseModel):
    """A stored maintenance window."""

    id: int
    assets: str
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, w: StoredWindow) -> WindowOut:
        """From the store."""
        return cls(id=w.id, assets=w.assets, start=w.start, end=w.end, reason=w.reason, created_by=w.created_by,
                   created_at=w.created_at)


class Routing(_In):
    """Channels and routes (the plant file's alerts.channels / alerts.routes)."""

    channels: dict[str, Channel]
    routes: list[Route]


class Problem(BaseModel):
    """An error."""

    detail: str
