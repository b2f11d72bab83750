"""Alert lifecycle transitions as InfluxDB points, so Grafana draws them as annotations on the charts.

Measurement `alerts`; tags are the bounded ones (site, area, line, asset, kind,
severity); the message, state, key, action and actor are fields, because they are
unbounded (DESIGN.md §5). One point per transition, at the transition's time.
A Grafana annotation query: SELECT "message", "state" FROM "alerts" WHERE $timeFilter.
"""

from __future__ import annotations

from analytics.alerts.model import Transition
from twin.influx import FieldValue, to_line

MEASUREMENT = "alerts"


def annotation_line(t: Transition) -> str:
    """One transition in line protocol."""
    a = t.alert
    tags = {"site": a.asset.site, "area": a.asset.area, "line": a.asset.line, "asset": a.asset.asset,
            "kind": a.kind, "severity": a.severity.value}
    fields: dict[str, FieldValue | None] = {
        "message": a.message, "state": a.state.value, "key": a.key, "action": t.action.value, "actor": t.actor,
        "alert_id": a.id, "count": a.count, "source": a.source, "comment": t.comment,
    }
    return to_line(MEASUREMENT, tags, fields, t.ts)
