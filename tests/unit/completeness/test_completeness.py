"""Completeness: expected vs received per window, zero windows for gaps, silence alerts that clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.completeness.service import CompletenessAnalytic, build_completeness
from twin.errors import ConfigError
from twin.events import EventState
from twin.plant import parse_plant
from twin.readings import Quality, Reading
from twin.topics import AssetPath

METER = AssetPath("f1", "a", "l1", "meter-01")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def plant(completeness: dict[str, object] | None) -> dict[str, object]:
    signal: dict[str, object] = {"mqtt": {"topic": "devices/m", "path": "$.p"}}
    if completeness is not None:
        signal["completeness"] = completeness
    return {"version": 1, "site": "f1", "areas": {"a": {"lines": {"l1": {"assets": {
        "meter-01": {"signals": {"p": signal, "q": {"mqtt": {"topic": "devices/m", "path": "$.q"}}}}}}}}}}


def analytic(**cfg: object) -> CompletenessAnalytic:
    built = build_completeness(parse_plant(plant({"interval_s": 1.0, "window_s": 10.0, **cfg})))
    assert built is not None
    return built


def reading(t_s: float, quality: Quality = Quality.GOOD) -> Reading:
    return Reading(METER, "p", T0 + timedelta(seconds=t_s), 1.0, quality)


def points(lines: list[str]) -> dict[int, dict[str, float]]:
    """window start (s after T0) → fields, from line protocol."""
    out = {}
    for line in lines:
        head, fields, ns = line.rsplit(" ", 2)
        assert head.startswith("completeness,") and "signal=p" in head
        values = {k: float(v) for k, v in (f.split("=") for f in fields.split(","))}
        out[int(int(ns) / 1e9 - T0.timestamp())] = values
    return out


def test_only_signals_that_declare_an_interval_are_counted() -> None:
    assert build_completeness(parse_plant(plant(None))) is None
    a = analytic()
    assert a.signals == ["meter-01/p"]
    assert a.wants(reading(0)) and not a.wants(Reading(METER, "q", T0, 1.0))


def test_a_full_window_a_gap_and_bad_samples_are_each_counted() -> None:
    a = analytic(silent_after_s=100)
    # Window 0: 10 of 10, two of them Bad. Then nothing for 20 s, then window 3 starts.
    out = a.process([reading(t, Quality.BAD if t in (3, 4) else Quality.GOOD) for t in range(10)])
    assert points(out.lines)[0] == {"expected": 10.0, "received": 10.0, "good": 8.0, "ratio": 1.0}
    out = a.process([reading(30.5)])
    got = points(out.lines)
    # The two silent windows are written as zeros; the open window 3 holds one sample so far.
    assert got[10] == got[20] == {"expected": 10.0, "received": 0.0, "good": 0.0, "ratio": 0.0}
    assert got[30]["received"] == 1.0
    assert out.events == []  # 20.5 s of silence is under silent_after_s


def test_silence_raises_one_alert_that_clears_when_data_returns() -> None:
    a = analytic(silent_after_s=15)
    a.process([reading(0)])
    assert a.process([reading(20)]).events == []  # a 20 s gap, but the signal itself ended it
    a2 = analytic(silent_after_s=15)
    a2.process([reading(0)])
    a2.clock = T0 + timedelta(seconds=40)  # other signals kept the stream's clock moving
    fired = a2.process([])
    assert [(e.state, e.key) for e in fired.events] == [(EventState.FIRING, "completeness:p:silent")]
    assert "no data for 40 s" in fired.events[0].message and fired.events[0].asset == METER
    assert a2.process([]).events == []  # once
    cleared = a2.process([reading(41)])
    assert [(e.state, e.key) for e in cleared.events] == [(EventState.CLEARED, "completeness:p:silent")]


def test_a_clock_far_in_the_future_does_not_make_everything_silent() -> None:
    a = analytic(silent_after_s=15)
    a.process([reading(0)])
    future = Reading(METER, "p", datetime.now(UTC) + timedelta(days=365), 1.0)
    a.process([future])
    assert a.clock is not None and a.clock < datetime.now(UTC) + timedelta(days=1)


@pytest.mark.parametrize("cfg, message", [
    ({"interval_s": 0}, "greater than 0"),
    ({"interval_s": 10, "window_s": 5}, "window_s (5.0) must be at least interval_s (10.0)"),
    ({"interval_s": 1, "every": 2}, "unknown key 'every'"),
])
def test_bad_sections_are_plant_file_errors(cfg: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="completeness") as err:
        parse_plant(plant(cfg))
    assert message in str(err.value)
