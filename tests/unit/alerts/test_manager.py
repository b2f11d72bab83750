"""Lifecycle engine: dedup, notification, escalation, acknowledgement, resolution, flaps, maintenance, restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from analytics.alerts.errors import AlertNotFound, InvalidTransition
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import Action, AlertState
from analytics.alerts.store import AlertStore
from tests.unit.alerts.conftest import T0, Clock, event, outbox

Make = Callable[..., AlertManager]


def test_burst_of_events_for_one_condition_is_one_alert_and_one_notification(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    for i in range(50):
        m.ingest(event(ts=T0 + timedelta(seconds=i)))
        m.tick(clock.advance(0.1))
    [alert] = m.find()
    assert alert.count == 50
    assert alert.last_seen == T0 + timedelta(seconds=49)
    assert outbox(m, alert.id) == [("mail", "firing")]


def test_alert_that_clears_before_the_next_tick_is_still_notified_once(make_manager: Make) -> None:
    # No minimum firing time configured: a short fault must still reach people, and once.
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.ingest(event("cleared"))
    m.tick()
    assert outbox(m, a.id) == [("mail", "firing"), ("mail", "resolved")]
    assert m.get(a.id).state is AlertState.RESOLVED


def test_different_keys_or_assets_are_different_alerts(make_manager: Make) -> None:
    m = make_manager()
    m.ingest(event(key="a"))
    m.ingest(event(key="b"))
    m.ingest(event(key="a", asset=event().asset.__class__("plant1", "machining", "line1", "cnc-02")))
    assert len(m.find()) == 3


def test_unacknowledged_alert_escalates_and_acknowledgement_stops_it(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.tick()
    m.tick(clock.advance(61))
    assert outbox(m, a.id) == [("mail", "firing"), ("lead", "escalation")]

    m2 = make_manager()
    b = m2.ingest(event(key="other"))
    assert b is not None
    m2.tick()
    m2.acknowledge(b.id, "alice", "on it")
    m2.tick(clock.advance(600))
    assert outbox(m2, b.id) == [("mail", "firing")]
    got = m2.get(b.id)
    assert (got.state, got.acked_by, got.ack_comment) == (AlertState.ACKNOWLEDGED, "alice", "on it")


def test_cleared_event_resolves_and_tells_the_notified_channels(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.tick()
    m.ingest(event("cleared"))
    got = m.get(a.id)
    assert (got.state, got.resolved_by) == (AlertState.RESOLVED, "system")
    assert outbox(m, a.id) == [("mail", "firing"), ("mail", "resolved")]
    assert [h.action for h in m.history(a.id)] == [Action.OPENED, Action.NOTIFIED, Action.RESOLVED]


def test_clear_hold_keeps_a_briefly_clear_condition_open(make_manager: Make, clock: Clock) -> None:
    m = make_manager(hysteresis={"clear_hold_s": 10})
    a = m.ingest(event())
    assert a is not None
    m.ingest(event("cleared"))
    m.tick(clock.advance(5))
    m.ingest(event())  # back before the hold ran out: the same alert, still firing
    m.tick(clock.advance(20))
    assert m.get(a.id).state is AlertState.FIRING
    m.ingest(event("cleared"))
    m.tick(clock.advance(11))
    assert m.get(a.id).state is AlertState.RESOLVED


def test_flapping_condition_reopens_the_same_alert_without_renotifying(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    for _ in range(10):
        m.ingest(event())
        m.tick(clock.advance(1))
        m.ingest(event("cleared"))
        m.tick(clock.advance(1))
    [alert] = m.find()
    assert alert.flaps == 9
    assert outbox(m, alert.id) == [("mail", "firing"), ("mail", "resolved")]


def test_refire_after_the_holdoff_is_a_new_alert(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    m.ingest(event())
    m.ingest(event("cleared"))
    clock.advance(301)
    m.ingest(event())
    assert len(m.find()) == 2


def test_refire_after_a_manual_resolve_is_a_new_alert(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.resolve(a.id, "bob", "replaced sensor")
    m.ingest(event())
    assert len(m.find()) == 2


def test_min_firing_time_suppresses_blips(make_manager: Make, clock: Clock) -> None:
    m = make_manager(hysteresis={"min_firing_s": 30, "refire_holdoff_s": 0}, routes=[
        {"name": "all", "escalation": [{"after_s": 0, "channels": ["mail"]}]}])
    clock.now = T0
    blip = m.ingest(event(key="blip"))
    m.tick(clock.advance(10))
    m.ingest(event("cleared", key="blip"))
    assert blip is not None and outbox(m, blip.id) == []
    steady = m.ingest(event(key="steady", ts=clock.now))
    m.tick(clock.advance(10))
    assert steady is not None and outbox(m, steady.id) == []
    m.tick(clock.advance(25))
    assert outbox(m, steady.id) == [("mail", "firing")]


def test_maintenance_window_silences_then_notifies_when_it_ends(make_manager: Make, clock: Clock) -> None:
    m = make_manager(maintenance=[{"assets": "plant1/machining/**", "start": T0.isoformat(),
                                   "end": (T0 + timedelta(minutes=30)).isoformat(), "reason": "PM"}])
    a = m.ingest(event())
    assert a is not None
    m.tick(clock.advance(120))
    assert m.get(a.id).silenced
    assert outbox(m, a.id) == []
    m.tick(clock.advance(30 * 60))
    assert not m.get(a.id).silenced
    assert outbox(m, a.id) == [("mail", "firing")]


def test_runtime_window_silences_only_its_subtree(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    m.add_window("plant1/machining/line1/**", T0, T0 + timedelta(hours=1), "changeover", "admin")
    inside = m.ingest(event())
    outside = m.ingest(event(asset=event().asset.__class__("plant1", "assembly", "line9", "press-1")))
    assert inside is not None and outside is not None
    m.tick()
    assert outbox(m, inside.id) == []
    assert outbox(m, outside.id) == [("mail", "firing")]


def test_state_survives_a_restart(make_manager: Make, clock: Clock) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.tick()
    m2 = make_manager()  # a new manager on the same file
    m2.ingest(event())
    assert m2.get(a.id).count == 2
    m2.tick(clock.advance(61))
    assert outbox(m2, a.id) == [("mail", "firing"), ("lead", "escalation")]


def test_invalid_transitions_are_refused(make_manager: Make) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.acknowledge(a.id, "alice")
    with pytest.raises(InvalidTransition):
        m.acknowledge(a.id, "alice")
    m.resolve(a.id, "alice")
    with pytest.raises(InvalidTransition):
        m.resolve(a.id, "alice")
    with pytest.raises(AlertNotFound):
        m.acknowledge(9999, "alice")


def test_severity_only_rises_while_open(make_manager: Make) -> None:
    m = make_manager()
    m.ingest(event(severity="warning"))
    m.ingest(event(severity="critical"))
    a = m.ingest(event(severity="info"))
    assert a is not None and a.severity.value == "critical"


def test_transitions_are_queued_for_annotations(make_manager: Make) -> None:
    m = make_manager()
    a = m.ingest(event())
    assert a is not None
    m.acknowledge(a.id, "alice")
    m.ingest(event("cleared"))
    assert [(t.action, t.alert.state) for t in m.transitions] == [
        (Action.OPENED, AlertState.FIRING), (Action.NOTIFIED, AlertState.FIRING),
        (Action.ACKNOWLEDGED, AlertState.ACKNOWLEDGED),
        (Action.RESOLVED, AlertState.RESOLVED)]


def test_list_filters_by_state_and_asset_pattern(make_manager: Make) -> None:
    m = make_manager()
    a = m.ingest(event(key="a"))
    m.ingest(event(key="b", asset=event().asset.__class__("plant2", "x", "y", "z")))
    assert a is not None
    m.acknowledge(a.id, "alice")
    assert [x.key for x in m.find(states=["acknowledged"])] == ["a"]
    assert [x.key for x in m.find(asset="plant2/**")] == ["b"]
    assert [x.key for x in m.find(asset="plant1/machining/line1/cnc-0?")] == ["a"]


def test_the_alert_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It keeps the routing table, whose channel URLs may carry credentials."""
    path = tmp_path / "alerts.db"
    with AlertStore(path):
        pass
    assert path.stat().st_mode & 0o777 == 0o600
