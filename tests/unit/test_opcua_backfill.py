"""Which history values fill an OPC UA gap: strictly after the last one we had, once per source time, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asyncua import ua

from edge_agent.sources.opcua.source import plan_backfill

T0 = datetime(2026, 11, 23, 6, 0, 0, 250000, tzinfo=UTC)


def dv(s: float, value: float | None = 1.0, status: int = ua.StatusCodes.Good) -> ua.DataValue:
    """A history value `s` seconds after T0."""
    ts = T0 + timedelta(seconds=s)
    return ua.DataValue(ua.Variant(value), StatusCode=ua.StatusCode(status), SourceTimestamp=ts, ServerTimestamp=ts)


def times(values: list[ua.DataValue]) -> list[float]:
    return [(v.SourceTimestamp - T0).total_seconds() for v in values]


def test_values_after_the_floor_once_each_oldest_first() -> None:
    # Out of order and repeated, as a restarted asyncua server's history is (it saves its current value again).
    history = [dv(0), dv(3), dv(1), dv(2), dv(3), dv(-5)]
    plan = plan_backfill(T0, history, max_values=100)
    assert times(plan.values) == [1, 2, 3]
    assert plan.reaches_back and not plan.truncated


def test_history_that_starts_after_our_last_value_does_not_cover_the_gap() -> None:
    plan = plan_backfill(T0, [dv(4), dv(5)], max_values=100)
    assert times(plan.values) == [4, 5] and not plan.reaches_back
    empty = plan_backfill(T0, [], max_values=100)
    assert empty.values == [] and not empty.reaches_back


def test_bounded_to_the_oldest_values_and_says_so() -> None:
    plan = plan_backfill(T0, [dv(s) for s in range(0, 11)], max_values=4)
    assert times(plan.values) == [1, 2, 3, 4] and plan.truncated
    assert plan_backfill(T0, [dv(0), dv(1)], max_values=4, more=True).truncated


def test_bad_values_are_kept_with_their_status_and_bound_placeholders_are_not_samples() -> None:
    history = [dv(0), dv(1, None, ua.StatusCodes.BadSensorFailure), dv(2, None, ua.StatusCodes.BadBoundNotFound)]
    plan = plan_backfill(T0, history, max_values=100)
    assert times(plan.values) == [1]
    assert plan.values[0].StatusCode.name == "BadSensorFailure"
