"""Grafana's InfluxQL substitution as the dashboard test replays it: time filter, interval, variables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.interpolate import (
    TimeRange,
    Variable,
    format_variable,
    interpolate,
    interval_ms,
    time_filter,
    variables_used,
)

NOW = datetime(2026, 11, 26, 10, 30, 15, tzinfo=UTC)


def test_relative_range_to_now_becomes_a_lower_bound_on_now() -> None:
    assert time_filter(TimeRange("now-1h", "now"), now=NOW) == "time >= now() - 1h"
    assert time_filter(TimeRange("now-7d", "now-1d"), now=NOW) == "time >= now() - 7d and time <= now() - 1d"


def test_today_resolves_to_epoch_milliseconds_of_the_whole_day() -> None:
    start = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp() * 1000)
    end = start + 86_400_000 - 1
    assert time_filter(TimeRange("now/d", "now/d"), now=NOW) == f"time >= {start}ms and time <= {end}ms"


@pytest.mark.parametrize(("start", "min_interval", "expected_ms"), [
    ("now-15m", None, 1000),          # 900 ms raw → 1 s
    ("now-1h", None, 5000),           # 3.6 s → 5 s
    ("now-24h", None, 60_000),        # 86.4 s → 1 m
    ("now-7d", None, 600_000),        # 604.8 s → 10 m
    ("now-7d", "1h", 3_600_000),      # the panel's minimum wins
])
def test_interval_follows_grafanas_rounding_and_minimum(start: str, min_interval: str | None,
                                                        expected_ms: int) -> None:
    assert interval_ms(TimeRange(start, "now"), now=NOW, min_interval=min_interval) == expected_ms


def test_multi_value_variables_become_escaped_regex_alternatives() -> None:
    assert format_variable(Variable(("cnc-01", "m.1"), regex=True)) == r"(cnc-01|m\.1)"
    assert format_variable(Variable(("cnc-01",), regex=True)) == "cnc-01"
    assert format_variable(Variable(("cnc.01",), regex=False)) == "cnc.01"


def test_interpolate_replaces_macros_and_every_variable_syntax() -> None:
    query = "SELECT x FROM t WHERE a =~ /^$asset$/ AND b = '${line}' AND c = '[[site]]' AND $timeFilter " \
            "GROUP BY time($__interval)"
    out = interpolate(query, variables={"asset": Variable(("a", "b"), True), "line": Variable(("l1",), False),
                                        "site": Variable(("s",), False)},
                      time_range=TimeRange("now-15m", "now"), now=NOW)
    assert out == ("SELECT x FROM t WHERE a =~ /^(a|b)$/ AND b = 'l1' AND c = 's' AND time >= now() - 15m "
                   "GROUP BY time(1s)")
    assert variables_used(query) == ["asset", "line", "site"]


def test_an_undefined_variable_is_an_error_not_a_silent_literal() -> None:
    with pytest.raises(KeyError, match="asset"):
        interpolate("WHERE a = '$asset'", variables={}, time_range=TimeRange(), now=NOW)
