"""Request and response models of the twin API (what OpenAPI documents), and the bounds on every input.

Every value a client sends is bounded here, so that no input can reach the store or the
manager in a shape they cannot handle (the 5xx an attacker found, 2026-11):

- integers that end up in SQL (ids, offsets) fit SQLite's signed 64-bit INTEGER; a larger
  one overflows in the sqlite3 module (OverflowError) instead of matching nothing;
- timestamps carry a time zone (a naive one is ambiguous, and the store refuses it) and
  lie between 1970 and 9999, a year short of `datetime.max`, so converting to UTC (an
  offset of up to ±24 h) or adding the manager's timedeltas cannot overflow;
- strings have a maximum length (pydantic's str already refuses a lone surrogate such as
  `"\\ud800"`, which JSON allows and SQLite could not store);
- lists and maps have a maximum number of items.

The whole body is bounded too, before it is parsed (api.middleware.MAX_BODY_BYTES).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from analytics.alerts.config import WEEKDAYS, Channel, EscalationStep, Match, Route, Shift, Weekday
from analytics.alerts.model import Alert, AlertState, Delivery, HistoryEntry
from analytics.alerts.patterns import validate_pattern
from analytics.alerts.store import StoredWindow
from twin.events import Severity

# SQLite INTEGER is a signed 64-bit integer (sqlite.org/datatype3.html); ids and offsets beyond it
# cannot be bound as SQL parameters at all.
MAX_SQL_INTEGER = 2**63 - 1
MAX_PAGE = 1000
"""Most alerts one list request returns."""
MAX_TEXT = 2000
"""Comments and maintenance reasons: a few paragraphs."""
MAX_NAME = 64
"""Names of channels and routes, alert kinds and sources."""
MAX_PATTERN = 256
"""An asset path pattern: four levels of names."""
MAX_URL = 2048
"""A channel's Apprise URL (long ones carry tokens and query options)."""
MAX_ITEMS = 50
"""Items in a list or map of a request (filters, channels, routes, ...)."""
MAX_ESCALATION_S = 30 * 86400.0
"""An escalation step waits at most 30 days: beyond that nobody is waiting, and a huge float
would overflow `timedelta(seconds=...)` in the manager's escalation timer."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def _date_time_text(value: object) -> object:
    # pydantic also takes a number (or a numeric string, as every query value is) as Unix
    # seconds; the schema promises RFC 3339 text, so `since=0.5` is refused, not read as 1970.
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time such as 2026-11-26T08:00:00Z")


def _sane_time(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("needs a time zone, e.g. 2026-11-26T08:00:00Z or 2026-11-26T16:00:00+08:00")
    # Aware datetimes compare by their UTC instant without building one, so this cannot overflow.
    if not EARLIEST <= ts <= LATEST:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return ts


Timestamp = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_sane_time),
                      Field(description="RFC 3339 with a time zone, between 1970 and 9999")]
Comment = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=r"^[A-Za-z0-9_.-]+$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
"""An alert kind or source, as a filter or route match (globs allowed)."""
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL)]
# The length is checked before validate_pattern runs, so its message never quotes a huge input.
Pattern = Annotated[str, StringConstraints(max_length=MAX_PATTERN), AfterValidator(validate_pattern)]


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

    comment: Comment | None = None


class CommentIn(_In):
    """A note on the alert's history."""

    text: Annotated[Comment, Field(min_length=1)]


class ResolveIn(_In):
    """Resolve by hand."""

    comment: Comment | None = None


class WindowIn(_In):
    """A maintenance window: alerts of the asset subtree are recorded but nobody is notified."""

    assets: Pattern = Field(description="asset path pattern, e.g. plant1/machining/line1/**")
    start: Timestamp
    end: Timestamp
    reason: Comment = ""

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


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


# The routing a client sends: the plant file's models (their validators still apply) with every
# string, list and number bounded. Responses use the plant file's models as they are, since a
# plant file may hold what the API would not accept (a longer URL, more routes).

class ChannelIn(Channel):
    """A channel as a client sends it."""

    url: Url = Field(description="Apprise URL; ${VAR} is expanded from the environment at send time")
    description: Comment = ""


class ShiftIn(Shift):
    """A shift as a client sends it."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), max_length=len(WEEKDAYS))


class MatchIn(Match):
    """A route's match as a client sends it."""

    assets: list[Pattern] = Field(default_factory=list, max_length=MAX_ITEMS,
                                  description="asset path patterns, e.g. plant1/machining/**")
    kinds: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS,
                               description="alert kinds, glob allowed (e.g. nelson_*)")
    sources: list[Label] = Field(default_factory=list, max_length=MAX_ITEMS,
                                 description="spc, pdm, energy, threshold, connectivity, ...")
    severities: list[Severity] = Field(default_factory=list, max_length=len(Severity))


class EscalationStepIn(EscalationStep):
    """An escalation step as a client sends it."""

    after_s: float = Field(ge=0, le=MAX_ESCALATION_S, allow_inf_nan=False,
                           description="seconds after the first notification; 0 for the first step")
    channels: list[Name] = Field(min_length=1, max_length=MAX_ITEMS)


class RouteIn(Route):
    """A route as a client sends it."""

    name: Name
    match: MatchIn = Field(default_factory=MatchIn)
    # The lists hold the bounded subclasses; the models are frozen, so narrowing the item type
    # is safe although mypy (for lists in general) calls it incompatible.
    shifts: list[ShiftIn] = Field(  # type: ignore[assignment]
        default_factory=list, max_length=MAX_ITEMS, description="only route during these shifts; empty = always")
    escalation: list[EscalationStepIn] = Field(min_length=1, max_length=MAX_ITEMS)  # type: ignore[assignment]


class RoutingIn(_In):
    """Channels and routes to replace the current ones with."""

    channels: dict[Name, ChannelIn] = Field(max_length=MAX_ITEMS)
    routes: list[RouteIn] = Field(max_length=MAX_ITEMS)


class Routing(BaseModel):
    """Channels and routes (the plant file's alerts.channels / alerts.routes)."""

    channels: dict[str, Channel]
    routes: list[Route]


class Problem(BaseModel):
    """An error."""

    detail: str
