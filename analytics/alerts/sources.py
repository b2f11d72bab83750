"""Alert sources of the manager's own: threshold rules on any signal, and connectivity checks.

SPC, PdM and energy publish their own AlertEvents; these two turn raw inputs into the
same events, so every alert goes through one lifecycle:

- `ThresholdRules`: a signal above/below a limit. The deadband is the hysteresis: a
  value that leaves the limit fires, and only a value back inside by `deadband` clears,
  so noise around the limit does not chatter.
- `ConnectivityWatcher`: an edge agent's retained status (its last will says
  `offline` when it vanishes), a status that stops being refreshed, a source of the
  agent (an OPC UA server) reported down, and assets whose telemetry goes silent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from analytics.alerts.config import Connectivity, ThresholdRule
from analytics.alerts.patterns import matches
from twin.errors import PayloadError
from twin.events import AlertEvent, EventState, Severity
from twin.readings import MAX_EDGE_SOURCES, MAX_LABEL_BYTES, Reading, check_text, load_object, show
from twin.topics import AssetPath

log = logging.getLogger(__name__)

SOURCE_THRESHOLD = "threshold"
SOURCE_CONNECTIVITY = "connectivity"


def _parse_status(agent: str, payload: bytes) -> tuple[str, dict[str, bool]]:
    """The state and the sources (name → connected) of an edge status; PayloadError if unusable.

    Everything is checked before the watcher changes state: the agent (a topic level)
    and source names end up in alert keys and messages, and each source is its own
    alert condition, so both are bounded.
    """
    check_text("edge agent id", agent, MAX_LABEL_BYTES)
    body = load_object(payload, "edge status")
    if "state" not in body:
        raise PayloadError("edge status has no 'state'")
    state = check_text("edge status state", body["state"], MAX_LABEL_BYTES)
    raw = body.get("sources")
    if not isinstance(raw, dict):
        return state, {}  # an offline last will carries no sources
    if len(raw) > MAX_EDGE_SOURCES:
        raise PayloadError(f"edge status names {len(raw)} sources (at most {MAX_EDGE_SOURCES})")
    return state, {check_text("edge status source", name, MAX_LABEL_BYTES): bool(up) for name, up in raw.items()}


def edge_asset(agent_id: str) -> AssetPath:
    """The asset path alerts about an edge agent are filed under: _sys/edge/agents/{agent}."""
    return AssetPath("_sys", "edge", "agents", agent_id)


class ThresholdRules:
    """Evaluates threshold rules on readings; one firing event per violating sample, one cleared per recovery."""

    def __init__(self, rules: list[ThresholdRule]) -> None:
        self.rules = rules
        self._signals = {r.signal for r in rules}
        self._active: set[tuple[str, str]] = set()

    def wants(self, reading: Reading) -> bool:
        """Cheap pre-filter: is the signal used by any rule."""
        return reading.signal in self._signals

    def update(self, reading: Reading) -> list[AlertEvent]:
        """Events caused by one reading."""
        value = reading.number  # None for bad/uncertain values, booleans and text: no evidence, no limits
        if value is None:
            return []
        out: list[AlertEvent] = []
        path = str(reading.asset)
        for rule in self.rules:
            if rule.signal != reading.signal or not matches(rule.assets, path):
                continue
            ident = (path, rule.name)
            high = rule.above is not None and value > rule.above
            low = rule.below is not None and value < rule.below
            key = f"threshold:{rule.name}:{rule.signal}"
            if high or low:
                self._active.add(ident)
                limit = rule.above if high else rule.below
                msg = f"{rule.signal} = {value:g} is {'above' if high else 'below'} {limit:g} (rule {rule.name})"
                out.append(AlertEvent(reading.asset, SOURCE_THRESHOLD, rule.kind, rule.severity, EventState.FIRING,
                                      key, msg, reading.ts, {"value": value, "limit": limit, "rule": rule.name}))
            elif ident in self._active:
                inside = ((rule.above is None or value <= rule.above - rule.deadband)
                          and (rule.below is None or value >= rule.below + rule.deadband))
                if inside:
                    self._active.discard(ident)
                    out.append(AlertEvent(reading.asset, SOURCE_THRESHOLD, rule.kind, rule.severity,
                                          EventState.CLEARED, key, f"{rule.signal} = {value:g} back within limits",
                                          reading.ts, {"value": value, "rule": rule.name}))
        return out


class ConnectivityWatcher:
    """Turns edge status messages and telemetry arrival times into connectivity alert events."""

    def __init__(self, config: Connectivity) -> None:
        self.config = config
        self._status_seen: dict[str, datetime] = {}
        self._offline: set[str] = set()
        self._stale_agents: set[str] = set()
        self._down_sources: set[tuple[str, str]] = set()
        self._data_seen: dict[AssetPath, datetime] = {}
        self._stale_assets: set[AssetPath] = set()

    def _event(self, asset: AssetPath, kind: str, state: EventState, key: str, message: str, ts: datetime,
               severity: Severity | None = None) -> AlertEvent:
        return AlertEvent(asset, SOURCE_CONNECTIVITY, kind, severity or self.config.severity, state, key, message, ts)

    def on_status(self, agent: str, payload: bytes, now: datetime) -> list[AlertEvent]:
        """An edge agent's status message (retained; its last will is an `offline` status)."""
        if not self.config.edge_agents or not payload:
            return []  # an empty retained message only deletes the retained status
        try:
            state, sources = _parse_status(agent, payload)
        except PayloadError as exc:
            log.warning("alerts: unreadable status of edge agent %s: %s", show(agent), exc)
            return []
        asset = edge_asset(agent)
        first = agent not in self._status_seen
        self._status_seen[agent] = now
        out: list[AlertEvent] = []
        if agent in self._stale_agents:
            self._stale_agents.discard(agent)
            out.append(self._event(asset, "edge_stale", EventState.CLEARED, f"edge:{agent}:stale",
                                   f"edge agent {agent} reports again", now))
        if state == "offline":
            self._offline.add(agent)
            out.append(self._event(asset, "edge_offline", EventState.FIRING, f"edge:{agent}:offline",
                                   f"edge agent {agent} is offline: no data from its machines reaches the twin", now))
            return out
        # The first status after a restart clears too: an offline alert may be open from before.
        if agent in self._offline or first:
            self._offline.discard(agent)
            out.append(self._event(asset, "edge_offline", EventState.CLEARED, f"edge:{agent}:offline",
                                   f"edge agent {agent} is online", now))
        for name, up in sources.items():
            ident = (agent, name)
            key = f"edge:{agent}:source:{name}"
            if not up and ident not in self._down_sources:
                self._down_sources.add(ident)
                out.append(self._event(asset, "source_down", EventState.FIRING, key,
                                       f"source {name} of edge agent {agent} is not connected", now))
            elif up and ident in self._down_sources:
                self._down_sources.discard(ident)
                out.append(self._event(asset, "source_down", EventState.CLEARED, key,
                                       f"source {name} of edge agent {agent} is connected again", now))
        return out

    def on_telemetry(self, asset: AssetPath, now: datetime) -> list[AlertEvent]:
        """Telemetry arrived for an asset."""
        if self.config.data_stale_after_s is None:
            return []
        self._data_seen[asset] = now
        if asset in self._stale_assets:
            self._stale_assets.discard(asset)
            return [self._event(asset, "stale_data", EventState.CLEARED, "connectivity:stale_data",
                                f"data from {asset} arrives again", now)]
        return []

    def check(self, now: datetime) -> list[AlertEvent]:
        """Clock-driven checks: statuses and telemetry that stopped arriving."""
        out: list[AlertEvent] = []
        if self.config.edge_agents and self.config.edge_stale_after_s is not None:
            limit = timedelta(seconds=self.config.edge_stale_after_s)
            for agent, seen in self._status_seen.items():
                if agent not in self._offline and agent not in self._stale_agents and now - seen > limit:
                    self._stale_agents.add(agent)
                    out.append(self._event(edge_asset(agent), "edge_stale", EventState.FIRING, f"edge:{agent}:stale",
                                           f"edge agent {agent} has not reported for "
                                           f"{(now - seen).total_seconds():.0f} s", now))
        if self.config.data_stale_after_s is not None:
            limit = timedelta(seconds=self.config.data_stale_after_s)
            for asset, seen in self._data_seen.items():
                if asset not in self._stale_assets and now - seen > limit:
                    self._stale_assets.add(asset)
                    out.append(self._event(asset, "stale_data", EventState.FIRING, "connectivity:stale_data",
                                           f"no data from {asset} for {(now - seen).total_seconds():.0f} s", now))
        return out
