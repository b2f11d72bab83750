"""The `alerts:` section of the plant file: channels, routes, escalation, hysteresis, maintenance, rules.

Validated with pydantic (`extra="forbid"`) like the rest of the plant model, so a typo
is an error that names the field rather than a silently ignored setting. Secrets in
channel URLs (SMTP passwords, bot tokens) may be written as `${ENV_VAR}` and are
expanded from the environment when the notifier builds the URL, so the plant file
itself holds no secret.

Example (see README.md for the full reference):

    alerts:
      timezone: Asia/Shanghai
      channels:
        maint-mail: {url: "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com?to=maint@example.com"}
        line-lead:  {url: "dingtalk://${DINGTALK_TOKEN}"}
      routes:
        - name: machining-critical
          match: {assets: ["plant1/machining/**"], severities: [critical]}
          escalation:
            - {after_s: 0, channels: [maint-mail]}
            - {after_s: 900, channels: [line-lead]}
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analytics.alerts.errors import AlertsConfigError
from analytics.alerts.patterns import matches, validate_pattern
from twin import timezones
from twin.errors import ConfigError
from twin.events import Severity
from twin.yamlfile import read_yaml

AssetPattern = Annotated[str, AfterValidator(validate_pattern)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = r"^[A-Za-z0-9_.-]+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel(_Model):
    """One place a notification can go, as an Apprise URL.

    Schemes used in plants: json:// (webhook), mailto:// / mailtos:// (SMTP), mqtt://,
    dingtalk://, wecombot://, feishu:// (or lark://), slack://, workflows:// (Teams).
    """

    url: str = Field(description="Apprise URL; ${VAR} is expanded from the environment at send time")
    description: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"channel url must be an Apprise URL such as json://host/path, got {v!r}")
        return v


class Shift(_Model):
    """A time window on given weekdays, in the config's time zone; end < start spans midnight."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        """True if the local wall-clock time lies in this shift."""
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return WEEKDAYS[local.weekday()] in self.days and self.start <= t < self.end
        # A night shift (22:00-06:00) belongs to the day it starts on.
        if t >= self.start:
            return WEEKDAYS[local.weekday()] in self.days
        if t < self.end:
            return WEEKDAYS[(local.weekday() - 1) % 7] in self.days
        return False


class Match(_Model):
    """Which alerts a route takes; an empty list means 'any'."""

    assets: list[AssetPattern] = Field(default_factory=list,
                                       description="asset path patterns, e.g. plant1/machining/**")
    kinds: list[str] = Field(default_factory=list, description="alert kinds, glob allowed (e.g. nelson_*)")
    sources: list[str] = Field(default_factory=list, description="spc, pdm, energy, threshold, connectivity, ...")
    severities: list[Severity] = Field(default_factory=list)
    min_severity: Severity | None = None


class EscalationStep(_Model):
    """Who is told, and how long after the first notification if nobody acknowledged."""

    # Capped at 30 days (as the API's routing input): an unbounded float would overflow the timer.
    after_s: float = Field(ge=0, le=30 * 86400,
                           description="seconds after the first notification; 0 for the first step")
    channels: list[Annotated[str, Field(pattern=_NAME)]] = Field(min_length=1)


class Route(_Model):
    """Alerts matching `match`, during `shifts` (if given), go to the escalation chain."""

    name: str = Field(pattern=_NAME)
    match: Match = Field(default_factory=Match)
    shifts: list[Shift] = Field(default_factory=list, description="only route during these shifts; empty = always")
    escalation: list[EscalationStep] = Field(min_length=1)
    notify_resolved: bool = Field(default=True, description="tell the channels already notified when it resolves")
    continue_matching: bool = Field(default=False, alias="continue",
                                    description="also try the routes after this one")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, v: list[EscalationStep]) -> list[EscalationStep]:
        if v[0].after_s != 0:
            raise ValueError("the first escalation step must have after_s: 0")
        if any(b.after_s <= a.after_s for a, b in itertools.pairwise(v)):
            raise ValueError("escalation steps must have strictly increasing after_s")
        return v


class Hysteresis(_Model):
    """Flap suppression: what keeps a chattering condition from paging people repeatedly."""

    min_firing_s: float = Field(default=0.0, ge=0,
                                description="notify only once the condition has been firing this long")
    clear_hold_s: float = Field(default=0.0, ge=0,
                                description="resolve only after the condition stayed clear this long")
    refire_holdoff_s: float = Field(default=300.0, ge=0,
                                    description="a re-fire this soon after auto-resolve reopens the same alert "
                                                "silently instead of notifying again")


class MaintenanceWindow(_Model):
    """A planned window during which alerts of an asset subtree are recorded but not notified."""

    assets: AssetPattern
    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _order(self) -> MaintenanceWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("maintenance window start/end need a time zone (e.g. 2026-11-26T08:00:00+08:00)")
        if self.end <= self.start:
            raise ValueError("maintenance window end must be after start")
        return self


class ThresholdRule(_Model):
    """Fire when a signal leaves [below, above]; clear when it is back inside by `deadband`."""

    name: str = Field(pattern=_NAME)
    assets: AssetPattern = "**"
    signal: str
    above: float | None = None
    below: float | None = None
    deadband: float = Field(default=0.0, ge=0, description="hysteresis band, in the signal's unit")
    severity: Severity = Severity.WARNING
    kind: str = "threshold"

    @model_validator(mode="after")
    def _limits(self) -> ThresholdRule:
        if self.above is None and self.below is None:
            raise ValueError(f"threshold rule {self.name!r} needs 'above' and/or 'below'")
        return self


class Connectivity(_Model):
    """Alerts about the pipeline itself: edge agents offline or silent, assets without fresh data."""

    edge_agents: bool = Field(default=True, description="alert on an edge agent's offline status / last will")
    edge_stale_after_s: float | None = Field(default=120.0, gt=0,
                                             description="alert when an agent's status has not been refreshed")
    data_stale_after_s: float | None = Field(default=None, gt=0,
                                             description="alert when an asset that sent telemetry goes silent")
    severity: Severity = Severity.CRITICAL


class AlertsConfig(_Model):
    """The whole `alerts:` section."""

    timezone: str = Field(default="UTC", description="IANA zone for shift schedules, e.g. Asia/Shanghai")
    channels: dict[Annotated[str, Field(pattern=_NAME)], Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    hysteresis: Hysteresis = Field(default_factory=Hysteresis)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    rules: list[ThresholdRule] = Field(default_factory=list)
    connectivity: Connectivity = Field(default_factory=Connectivity)
    delivery_attempts: int = Field(default=5, ge=1, description="tries per notification before giving up")
    delivery_backoff_s: float = Field(default=2.0, gt=0, description="first retry delay; doubles, capped at 5 min")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        timezones.zone(v)  # UnknownTimeZone is a ValueError: a field error naming the key
        return v

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        for route in self.routes:
            for step in route.escalation:
                for ch in step.channels:
                    if ch not in self.channels:
                        raise ValueError(f"route {route.name!r} names channel {ch!r}, which is not in 'channels' "
                                         f"(known: {sorted(self.channels) or 'none'})")
        names = [r.name for r in self.routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        rule_names = [r.name for r in self.rules]
        if len(rule_names) != len(set(rule_names)):
            raise ValueError("threshold rule names must be unique")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def in_config_maintenance(self, asset: str, now: datetime) -> MaintenanceWindow | None:
        """The first configured maintenance window covering `asset` at `now`, if any."""
        for w in self.maintenance:
            if w.start <= now < w.end and matches(w.assets, asset):
                return w
        return None


def expand_env(text: str, env: dict[str, str]) -> str:
    """Replace ${VAR} with its value; AlertsConfigError names a missing variable."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in env:
            raise AlertsConfigError(f"environment variable {m.group(1)} (used in an alerts channel URL) is not set")
        return env[m.group(1)]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


def parse_config(raw: Any, *, source: str = "<alerts>") -> AlertsConfig:
    """Validate a mapping (the `alerts:` section); AlertsConfigError names the source and field."""
    try:
        return AlertsConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise AlertsConfigError(f"{source}: invalid alerts config: {problems}") from None


def load_config(path: Path) -> AlertsConfig:
    """Load an alerts config from YAML: either the bare section or a plant file with an `alerts:` key."""
    try:
        raw = read_yaml(path, what="alerts config")
    except ConfigError as exc:
        raise AlertsConfigError(str(exc)) from None
    if isinstance(raw, dict) and "alerts" in raw:
        raw = raw["alerts"]
    return parse_config(raw, source=str(path))


def escalation_delay(step: EscalationStep) -> timedelta:
    """The step's delay as a timedelta."""
    return timedelta(seconds=step.after_s)
