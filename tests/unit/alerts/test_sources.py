"""Threshold rules (with deadband hysteresis) and connectivity checks (edge status, last will, stale data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from analytics.alerts.config import Connectivity, ThresholdRule
from analytics.alerts.sources import ConnectivityWatcher, ThresholdRules, edge_asset
from twin.events import EventState
from twin.readings import Quality, Reading
from twin.topics import AssetPath

T0 = datetime(2026, 11, 26, tzinfo=UTC)
ASSET = AssetPath("p", "a", "l", "pump")


def reading(value: float, quality: Quality = Quality.GOOD) -> Reading:
    return Reading(ASSET, "temp_c", T0, value, quality)


def test_threshold_fires_per_sample_and_clears_once_inside_the_deadband() -> None:
    rules = ThresholdRules([ThresholdRule(name="hot", signal="temp_c", above=80, deadband=5)])
    states = [[e.state for e in rules.update(reading(v))] for v in (70, 81, 85, 79, 76, 74, 74)]
    assert states == [[], [EventState.FIRING], [EventState.FIRING], [], [], [EventState.CLEARED], []]


def test_threshold_ignores_bad_quality_and_other_assets() -> None:
    rules = ThresholdRules([ThresholdRule(name="hot", signal="temp_c", above=80, assets="x/**")])
    assert rules.update(reading(99)) == []
    rules = ThresholdRules([ThresholdRule(name="cold", signal="temp_c", below=0)])
    assert rules.update(reading(-5, Quality.BAD)) == []
    [ev] = rules.update(reading(-5))
    assert ev.key == "threshold:cold:temp_c" and "below" in ev.message


def status(state: str, **sources: bool) -> bytes:
    return json.dumps({"agent": "edge-1", "state": state, "sources": sources}).encode()


def test_last_will_fires_offline_and_online_clears_it() -> None:
    w = ConnectivityWatcher(Connectivity())
    [off] = w.on_status("edge-1", status("offline"), T0)
    assert (off.kind, off.state, off.asset) == ("edge_offline", EventState.FIRING, edge_asset("edge-1"))
    events = w.on_status("edge-1", status("online", opcua=True), T0)
    assert [(e.kind, e.state) for e in events] == [("edge_offline", EventState.CLEARED)]


def test_source_down_fires_and_clears() -> None:
    w = ConnectivityWatcher(Connectivity())
    w.on_status("edge-1", status("online", opcua=True), T0)
    [down] = w.on_status("edge-1", status("online", opcua=False), T0)
    assert (down.kind, down.state) == ("source_down", EventState.FIRING)
    assert w.on_status("edge-1", status("online", opcua=False), T0) == []
    [up] = [e for e in w.on_status("edge-1", status("online", opcua=True), T0) if e.kind == "source_down"]
    assert up.state is EventState.CLEARED


def test_silent_agent_and_silent_asset_go_stale() -> None:
    w = ConnectivityWatcher(Connectivity(edge_stale_after_s=30, data_stale_after_s=10))
    w.on_status("edge-1", status("online"), T0)
    w.on_telemetry(ASSET, T0)
    assert w.check(T0 + timedelta(seconds=5)) == []
    kinds = sorted(e.kind for e in w.check(T0 + timedelta(seconds=31)))
    assert kinds == ["edge_stale", "stale_data"]
    assert w.check(T0 + timedelta(seconds=40)) == []  # fired once, not every check
    [back] = w.on_telemetry(ASSET, T0 + timedelta(seconds=41))
    assert (back.kind, back.state) == ("stale_data", EventState.CLEARED)
