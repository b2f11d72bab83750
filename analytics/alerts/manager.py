"""The alert manager's lifecycle engine: events in, alerts, history and outbox rows out. No I/O but SQLite.

`ingest(event)` applies one AlertEvent; `tick(now)` runs the clock-driven parts
(pending notifications after the minimum firing time, resolution after the clear hold,
escalation, maintenance windows); `acknowledge`, `comment` and `resolve` are the
people's side. Every change is written to the store in one transaction together with
the notifications it causes (the outbox), and queued as an InfluxDB annotation.

Time: `first_seen` / `last_seen` are the events' source timestamps (what the charts
show), while hold times and escalation run on the manager's clock, because a backlog
of old events replayed after a reconnect must not look like a condition that has
already been firing for an hour.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.alerts.config import AlertsConfig, Channel, Route
from analytics.alerts.errors import AlertsConfigError, InvalidTransition
from analytics.alerts.model import SEVERITY_RANK, Action, Alert, AlertState, HistoryEntry, Transition
from analytics.alerts.patterns import matches
from analytics.alerts.routing import select_routes
from analytics.alerts.store import AlertStore, StoredWindow
from twin.events import AlertEvent, EventState

log = logging.getLogger(__name__)

SYSTEM = "system"  # the actor of automatic transitions
ROUTING_SETTING = "routing"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertManager:
    """Owns the alert state of one plant (or one site); used from one event loop."""

    def __init__(self, store: AlertStore, config: AlertsConfig, *, clock: Callable[[], datetime] = _utcnow,
                 on_change: Callable[[], None] | None = None) -> None:
        self.store = store
        self.file_config = config
        self.clock = clock
        self.on_change = on_change
        # Annotations waiting for the InfluxDB writer; bounded so a long InfluxDB outage
        # costs old annotations, never the manager's memory.
        self.transitions: collections.deque[Transition] = collections.deque(maxlen=10_000)
        self.config = self._with_routing_override(config)
        self._open: dict[tuple[str, str], Alert] = {(str(a.asset), a.key): a for a in store.open_alerts()}

    # -- configuration ---------------------------------------------------------------------

    def _with_routing_override(self, config: AlertsConfig) -> AlertsConfig:
        raw = self.store.get_setting(ROUTING_SETTING)
        if raw is None:
            return config
        try:
            merged = AlertsConfig.model_validate({**config.model_dump(by_alias=True), **json.loads(raw)})
        except ValueError as exc:
            log.error("alerts: ignoring the stored routing override, it no longer validates: %s", exc)
            return config
        log.warning("alerts: using the routing set through the API (overrides the plant file's routes)")
        return merged

    def set_routing(self, channels: dict[str, Channel], routes: list[Route]) -> AlertsConfig:
        """Replace channels and routes at run time (admin); persisted, so it survives a restart."""
        override = {"channels": {k: v.model_dump() for k, v in channels.items()},
                    "routes": [r.model_dump(by_alias=True) for r in routes]}
        try:
            merged = AlertsConfig.model_validate({**self.config.model_dump(by_alias=True), **override})
        except ValueError as exc:
            raise AlertsConfigError(f"invalid routing: {exc}") from None
        with self.store.transaction():
            self.store.set_setting(ROUTING_SETTING, json.dumps(override, default=str))
        self.config = merged
        return merged

    def reset_routing(self) -> AlertsConfig:
        """Drop the run-time routing and go back to the plant file's."""
        with self.store.transaction():
            self.store.set_setting(ROUTING_SETTING, None)
        self.config = self.file_config
        return self.config

    # -- reading ---------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        """One alert (AlertNotFound if unknown)."""
        return self.store.get(alert_id)

    def find(self, *, states: list[str] | None = None, severities: list[str] | None = None,
             kinds: list[str] | None = None, sources: list[str] | None = None, asset: str | None = None,
             since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[Alert]:
        """Alerts newest first, filtered; `asset` is a path pattern (e.g. plant1/machining/**)."""
        if asset is None:
            return self.store.query(states=states, severities=severities, kinds=kinds, sources=sources,
                                    since=since, limit=limit, offset=offset)
        # Pattern matching is done here, so page through the store until the page is full.
        out: list[Alert] = []
        skipped = 0
        page_offset = 0
        while len(out) < limit:
            page = self.store.query(states=states, severities=severities, kinds=kinds, sources=sources,
                                    since=since, limit=500, offset=page_offset)
            if not page:
                break
            page_offset += len(page)
            for a in page:
                if matches(asset, str(a.asset)):
                    if skipped < offset:
                        skipped += 1
                    elif len(out) < limit:
                        out.append(a)
        return out

    @property
    def open_alerts(self) -> list[Alert]:
        """Firing and acknowledged alerts (copies)."""
        return [dataclasses.replace(a) for a in self._open.values()]

    # -- events ----------------------------------------------------------------------------

    def ingest(self, event: AlertEvent) -> Alert | None:
        """Apply one event; returns the alert it touched (None for a `cleared` of nothing open)."""
        now = self.clock()
        ident = (str(event.asset), event.key)
        alert = self._open.get(ident)
        with self.store.transaction():
            if event.state is EventState.CLEARED:
                if alert is None:
                    return None
                if self.config.hysteresis.clear_hold_s <= 0:
                    self._resolve(alert, SYSTEM, "condition cleared", now)
                elif alert.cleared_at is None:
                    alert.cleared_at = now
                    self.store.update(alert)
            elif alert is not None:
                self._refresh(alert, event)
                self.store.update(alert)
            else:
                alert = self._reopen_flap(event, now) or self._open_new(event, now)
                self._open[ident] = alert
                # No minimum firing time: page now, not on the next tick, so an alert that
                # clears within a tick (or carries a source time ahead of our clock) is still heard.
                if (alert.notified_at is None and self.config.hysteresis.min_firing_s <= 0
                        and not self.in_maintenance(str(alert.asset), now)):
                    self._notify_first(alert, now)
        self._changed()
        return dataclasses.replace(alert)

    def _refresh(self, alert: Alert, event: AlertEvent) -> None:
        alert.count += 1
        alert.last_seen = max(alert.last_seen, event.ts)
        alert.message = event.message
        alert.details = event.details
        alert.cleared_at = None  # the condition holds again: no pending resolution
        # Keep the highest severity seen: an alert that was critical once stays critical
        # until resolved, so a fluctuating severity cannot downgrade who is paged.
        if SEVERITY_RANK[event.severity] > SEVERITY_RANK[alert.severity]:
            alert.severity = event.severity

    def _reopen_flap(self, event: AlertEvent, now: datetime) -> Alert | None:
        holdoff = self.config.hysteresis.refire_holdoff_s
        if holdoff <= 0:
            return None
        last = self.store.last_resolved(str(event.asset), event.key)
        # Only an automatic resolution is a flap; a person who resolved by hand said the
        # cause is fixed, so a re-fire after that is news and gets a new alert.
        if (last is None or last.resolved_by != SYSTEM or last.resolved_at is None
                or now - last.resolved_at > timedelta(seconds=holdoff)):
            return None
        last.state = AlertState.ACKNOWLEDGED if last.acked_by else AlertState.FIRING
        last.resolved_at = None
        last.resolved_by = None
        last.flaps += 1
        self._refresh(last, event)
        self.store.update(last)
        self._record(last, Action.REOPENED, SYSTEM, now, f"flap {last.flaps}: re-fired within {holdoff:g} s")
        return last

    def _open_new(self, event: AlertEvent, now: datetime) -> Alert:
        alert = Alert(id=0, asset=event.asset, source=event.source, kind=event.kind, severity=event.severity,
                      key=event.key, message=event.message, state=AlertState.FIRING, first_seen=event.ts,
                      last_seen=event.ts, details=event.details)
        alert.id = self.store.insert(alert)
        self._record(alert, Action.OPENED, SYSTEM, now, event.message)
        log.info("alert %d opened: %s %s (%s) %s", alert.id, alert.asset, alert.kind, alert.severity.value,
                 alert.message)
        return alert

    # -- the clock -------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """Run hold times, first notifications, escalation and maintenance silencing."""
        now = now or self.clock()
        hyst = self.config.hysteresis
        changed = False
        windows = [w for w in self.store.windows() if w.start <= now < w.end]
        for alert in list(self._open.values()):
            with self.store.transaction():
                if alert.cleared_at is not None and now - alert.cleared_at >= timedelta(seconds=hyst.clear_hold_s):
                    self._resolve(alert, SYSTEM, "condition cleared", now)
                    changed = True
                    continue
                silenced = self.in_maintenance(str(alert.asset), now, windows)
                if silenced != alert.silenced:
                    alert.silenced = silenced
                    self.store.update(alert)
                    changed = True
                if silenced:
                    continue  # recorded, but nobody is told, and escalation waits
                if alert.notified_at is None:
                    if alert.state is AlertState.FIRING and now - alert.first_seen >= timedelta(
                            seconds=hyst.min_firing_s):
                        changed |= self._notify_first(alert, now)
                elif alert.state is AlertState.FIRING:
                    changed |= self._escalate(alert, alert.notified_at, now)
        if changed:
            self._changed()

    def _notify_first(self, alert: Alert, now: datetime) -> bool:
        routes = select_routes(self.config, alert, now)
        if not routes:
            return False  # looked at again next tick: a shift may start, or routing may change
        channels: list[str] = []
        for route in routes:
            alert.escalation[route.name] = 0
            channels.extend(c for c in route.escalation[0].channels if c not in channels)
        for ch in channels:
            self.store.enqueue(alert.id, ch, "firing", now)
        alert.notified_at = now
        self.store.update(alert)
        self._record(alert, Action.NOTIFIED, SYSTEM, now, ", ".join(channels))
        return True

    def _escalate(self, alert: Alert, notified_at: datetime, now: datetime) -> bool:
        routes = {r.name: r for r in self.config.routes}
        channels: list[str] = []
        for name, level in list(alert.escalation.items()):
            route = routes.get(name)
            if route is None:
                continue  # the route was removed by a routing change; nobody left to escalate to
            while level + 1 < len(route.escalation) and now - notified_at >= timedelta(
                    seconds=route.escalation[level + 1].after_s):
                level += 1
                channels.extend(c for c in route.escalation[level].channels if c not in channels)
            alert.escalation[name] = level
        if not channels:
            return False
        for ch in channels:
            self.store.enqueue(alert.id, ch, "escalation", now)
        self.store.update(alert)
        self._record(alert, Action.ESCALATED, SYSTEM, now, ", ".join(channels))
        log.info("alert %d escalated to %s (not acknowledged)", alert.id, ", ".join(channels))
        return True

    # -- people ----------------------------------------------------------------------------

    def acknowledge(self, alert_id: int, user: str, comment: str | None = None) -> Alert:
        """firing → acknowledged; stops escalation. InvalidTransition if not firing."""
        now = self.clock()
        alert = self._open_by_id(alert_id, "acknowledge")
        if alert.state is not AlertState.FIRING:
            raise InvalidTransition(f"alert {alert_id} is {alert.state.value}; only a firing alert can be acknowledged")
        with self.store.transaction():
            alert.state = AlertState.ACKNOWLEDGED
            alert.acked_by, alert.acked_at, alert.ack_comment = user, now, comment
            self.store.update(alert)
            self._record(alert, Action.ACKNOWLEDGED, user, now, comment)
        log.info("alert %d acknowledged by %s", alert.id, user)
        self._changed()
        return dataclasses.replace(alert)

    def resolve(self, alert_id: int, user: str, comment: str | None = None) -> Alert:
        """Resolve by hand. InvalidTransition if already resolved."""
        now = self.clock()
        alert = self._open_by_id(alert_id, "resolve")
        with self.store.transaction():
            self._resolve(alert, user, comment, now)
        self._changed()
        return dataclasses.replace(alert)

    def comment(self, alert_id: int, user: str, text: str) -> Alert:
        """Add a comment to an alert's history (any state)."""
        now = self.clock()
        alert = self.store.get(alert_id)
        alert = self._open.get((str(alert.asset), alert.key), alert) if alert.active else alert
        with self.store.transaction():
            self._record(alert, Action.COMMENTED, user, now, text)
        self._changed()
        return dataclasses.replace(alert)

    def history(self, alert_id: int) -> list[HistoryEntry]:
        """An alert's lifecycle, oldest first."""
        self.store.get(alert_id)
        return self.store.history(alert_id)

    def _open_by_id(self, alert_id: int, verb: str) -> Alert:
        stored = self.store.get(alert_id)
        alert = self._open.get((str(stored.asset), stored.key))
        if alert is None or alert.id != alert_id:
            raise InvalidTransition(f"alert {alert_id} is {stored.state.value}; cannot {verb} it")
        return alert

    def _resolve(self, alert: Alert, actor: str, comment: str | None, now: datetime) -> None:
        alert.state = AlertState.RESOLVED
        alert.resolved_at, alert.resolved_by, alert.cleared_at = now, actor, None
        self._open.pop((str(alert.asset), alert.key), None)
        self.store.update(alert)
        self._record(alert, Action.RESOLVED, actor, now, comment)
        log.info("alert %d resolved by %s", alert.id, actor)
        if alert.notified_at is None:
            return
        already = {d.channel for d in self.store.deliveries(alert.id) if d.event == "resolved"}
        routes = {r.name: r for r in self.config.routes}
        told: list[str] = []
        for name, level in alert.escalation.items():
            route = routes.get(name)
            if route is None or not route.notify_resolved:
                continue
            for step in route.escalation[: level + 1]:
                told.extend(c for c in step.channels if c not in told and c not in already)
        # `already`: a reopened (flapping) alert tells each channel it resolved only once.
        for ch in told:
            self.store.enqueue(alert.id, ch, "resolved", now)

    # -- maintenance windows ---------------------------------------------------------------

    def in_maintenance(self, asset: str, now: datetime, windows: list[StoredWindow] | None = None) -> bool:
        """True if a configured or stored maintenance window covers the asset now."""
        if self.config.in_config_maintenance(asset, now) is not None:
            return True
        stored = self.store.windows() if windows is None else windows
        return any(w.start <= now < w.end and matches(w.assets, asset) for w in stored)

    def add_window(self, assets: str, start: datetime, end: datetime, reason: str, user: str) -> StoredWindow:
        """Store a maintenance window (admin); alerts in it are silenced from the next tick."""
        with self.store.transaction():
            window = self.store.add_window(assets, start, end, reason, user, self.clock())
        self._changed()
        return window

    def delete_window(self, window_id: int) -> bool:
        """Delete a stored maintenance window."""
        with self.store.transaction():
            deleted = self.store.delete_window(window_id)
        self._changed()
        return deleted

    # -- internals -------------------------------------------------------------------------

    def _record(self, alert: Alert, action: Action, actor: str, now: datetime, comment: str | None) -> None:
        self.store.add_history(HistoryEntry(alert.id, now, action, actor, alert.state, comment))
        self.transitions.append(Transition(dataclasses.replace(alert), action, actor, now, comment))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def summary(alert: Alert) -> dict[str, Any]:
    """A compact dict of an alert, for logs and notifications."""
    return {"id": alert.id, "asset": str(alert.asset), "kind": alert.kind, "severity": alert.severity.value,
            "state": alert.state.value, "count": alert.count, "message": alert.message}
