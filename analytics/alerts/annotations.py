"""Alert lifecycle transitions as InfluxDB points, so Grafana draws them as annotations on the charts.

Measurement `alerts`; tags are the bounded ones (site, area, line, asset, kind,
severity); the message, state, key, action and actor are fields, because they are
unbounded (DESIGN.md §5). One point per transition, at the transition's time.
A Grafana annotation query: SELECT "message", "state" FROM "alerts" WHERE $timeFilter.
"""

from __future__ import annotations

from analytics.alerts.model import Transition
from twin.influx import FieldValue, to_line, to_ns

MEASUREMENT = "alerts"


class Annotations:
    """Turns transitions into points whose (tags, time) never collide within this process.

    InfluxDB identifies a point by (measurement, tags, time), and two alerts of one asset
    and kind notified in the same tick share all three, so the second would overwrite
    the first. A transition that would land on an already used nanosecond of its series
    is moved 1 ns later: invisible on a chart, and both points are kept.
    """

    def __init__(self) -> None:
        self._last_ns: dict[tuple[str, ...], int] = {}

    def line(self, t: Transition) -> str:
        """One transition in line protocol."""
        a = t.alert
        tags = {"site": a.asset.site, "area": a.asset.area, "line": a.asset.line, "asset": a.asset.asset,
                "kind": a.kind, "severity": a.severity.value}
        series = tuple(tags.values())
        ns = max(to_ns(t.ts), self._last_ns.get(series, -1) + 1)
        self._last_ns[series] = ns
        if len(self._last_ns) > 100_000:  # bounded: old series can only collide with old times
            self._last_ns.clear()
        return annotation_line(t, ns)


def annotation_line(t: Transition, ns: int | None = None) -> str:
    """One transition in line protocol (at `ns` if given, else at the transition's time)."""
    a = t.alert
    tags = {"site": a.asset.site, "area": a.asset.area, "line": a.asset.line, "asset": a.asset.asset,
            "kind": a.kind, "severity": a.severity.value}
    fields: dict[str, FieldValue | None] = {
        "message": a.message, "state": a.state.value, "key": a.key, "action": t.action.value, "actor": t.actor,
        "alert_id": float(a.id), "count": float(a.count), "source": a.source, "comment": t.comment,
    }
    return to_line(MEASUREMENT, tags, fields, t.ts if ns is None else ns)
