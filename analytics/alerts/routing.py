"""Routing: which routes (and so which escalation chains of channels) an alert goes to.

Routes are tried in order and the first match wins, unless it says `continue: true`
(as in Prometheus Alertmanager), so a specific route can sit above a catch-all one.
Shift schedules are checked when the alert is first notified: the people on shift then
own it, even if their shift ends before they acknowledge.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime

from analytics.alerts.config import AlertsConfig, Match, Route
from analytics.alerts.model import SEVERITY_RANK, Alert
from analytics.alerts.patterns import matches


def route_matches(match: Match, alert: Alert) -> bool:
    """True if the alert satisfies every condition of `match`."""
    if match.assets and not any(matches(p, str(alert.asset)) for p in match.assets):
        return False
    if match.kinds and not any(fnmatch.fnmatchcase(alert.kind, k) for k in match.kinds):
        return False
    if match.sources and alert.source not in match.sources:
        return False
    if match.severities and alert.severity not in match.severities:
        return False
    return not (match.min_severity is not None and SEVERITY_RANK[alert.severity] < SEVERITY_RANK[match.min_severity])


def select_routes(config: AlertsConfig, alert: Alert, now: datetime) -> list[Route]:
    """The routes that take this alert now."""
    local = now.astimezone(config.zone)
    chosen: list[Route] = []
    for route in config.routes:
        if not route_matches(route.match, alert):
            continue
        if route.shifts and not any(s.contains(local) for s in route.shifts):
            continue
        chosen.append(route)
        if not route.continue_matching:
            break
    return chosen
