"""Notifiers: how a notification reaches a channel. Apprise does the talking, not hand-written clients.

Apprise (https://github.com/caronc/apprise) speaks every channel a plant uses through
one URL scheme: json:// (webhook), mailto:// (SMTP), mqtt://, dingtalk://, wecombot://,
feishu:// or lark://, slack://, workflows:// (Microsoft Teams). Adding a channel is
adding a URL to the config, not code.

For json:// webhooks the alert's fields are added to the JSON body as top-level keys
(Apprise's `:key=value` URL extras), so a receiver gets structured data, not just text.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

import apprise

from analytics.alerts.config import Channel, expand_env
from analytics.alerts.errors import DeliveryError
from analytics.alerts.model import Alert
from twin.readings import format_ts

log = logging.getLogger(__name__)

_TYPE = {"firing": apprise.NotifyType.FAILURE, "escalation": apprise.NotifyType.WARNING,
         "resolved": apprise.NotifyType.SUCCESS}


@dataclass(frozen=True, slots=True)
class Notification:
    """What to tell a channel: an event (firing, escalation, resolved) of one alert."""

    alert: Alert
    event: str

    @property
    def title(self) -> str:
        """One line: what, where, how bad."""
        prefix = {"firing": "", "escalation": "ESCALATED: ", "resolved": "RESOLVED: "}.get(self.event, "")
        a = self.alert
        return f"{prefix}[{a.severity.value.upper()}] {a.kind} on {a.asset}"

    @property
    def body(self) -> str:
        """Plain text a person can act on."""
        a = self.alert
        lines = [a.message, "", f"asset: {a.asset}", f"alert: #{a.id} ({a.state.value}), seen {a.count}x",
                 f"first seen: {format_ts(a.first_seen)}", f"source: {a.source}, key: {a.key}"]
        if self.event != "resolved":
            lines.append(f"acknowledge: twin alerts ack {a.id}")
        return "\n".join(lines)

    def fields(self) -> dict[str, str]:
        """Structured fields for JSON webhooks."""
        a = self.alert
        return {"event": self.event, "alert_id": str(a.id), "asset": str(a.asset), "kind": a.kind,
                "severity": a.severity.value, "state": a.state.value, "key": a.key, "source": a.source,
                "count": str(a.count), "first_seen": format_ts(a.first_seen), "last_seen": format_ts(a.last_seen)}


class Notifier(Protocol):
    """Sends one notification to one channel; raises DeliveryError if the channel did not take it."""

    async def send(self, channel_name: str, channel: Channel, notification: Notification) -> None:
        """Deliver, or raise DeliveryError."""
        ...


@functools.cache
def _load_plugins() -> None:
    # Apprise loads all its plugins on first use; its e-mail plugin imports the stdlib
    # `imghdr`, deprecated since Python 3.11 (removed in 3.13; Apprise shims it there).
    # Load them once here with that warning silenced, so it does not surface (or, under
    # pytest's warnings-as-errors, fail) in the middle of the first delivery.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        apprise.Apprise().add("json://localhost")


class AppriseNotifier:
    """The production notifier: one Apprise call per delivery."""

    def __init__(self, *, timeout_s: float = 15.0, env: dict[str, str] | None = None) -> None:
        _load_plugins()
        self.timeout_s = timeout_s
        self._env = env

    def _url(self, channel: Channel, notification: Notification) -> str:
        url = expand_env(channel.url, dict(os.environ) if self._env is None else self._env)
        if url.startswith(("json://", "jsons://")):
            extras = urlencode({f":{k}": v for k, v in notification.fields().items()}, quote_via=quote)
            url += ("&" if "?" in url else "?") + extras
        return url

    async def send(self, channel_name: str, channel: Channel, notification: Notification) -> None:
        """Deliver through Apprise; DeliveryError carries Apprise's reason."""
        app = apprise.Apprise()
        if not app.add(self._url(channel, notification)):
            # Not retryable in substance, but the outbox treats it like any failure and
            # gives up after the configured attempts, with this reason in the delivery log.
            raise DeliveryError(f"channel {channel_name!r}: Apprise does not understand its URL "
                                f"(scheme {channel.url.split('://', 1)[0]!r})")
        result = await app.async_notify(body=notification.body, title=notification.title,
                                        notify_type=_TYPE.get(notification.event, apprise.NotifyType.INFO),
                                        timeout=self.timeout_s)
        if not result:
            # Apprise >= 2.3 returns an AppriseResult with logs; earlier 2.x a bool.
            logs = getattr(result, "logs", None)
            reasons = "; ".join(str(e.message) for e in logs()) if callable(logs) else ""
            raise DeliveryError(f"channel {channel_name!r} refused the notification"
                                + (f": {reasons[:500]}" if reasons else ""))
