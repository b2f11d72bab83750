"""Alerts config validation, asset path patterns, shift schedules and route selection."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from analytics.alerts.config import Shift, expand_env, load_config, parse_config
from analytics.alerts.errors import AlertsConfigError
from analytics.alerts.model import Alert, AlertState
from analytics.alerts.patterns import matches, validate_pattern
from analytics.alerts.routing import select_routes
from twin.events import Severity
from twin.topics import AssetPath


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("**", "a/b/c/d", True),
    ("plant1/**", "plant1/machining/line1/cnc", True),
    ("plant1/**", "plant2/machining/line1/cnc", False),
    ("*/machining/*/*", "p/machining/l/a", True),
    ("*/machining/*/*", "p/assembly/l/a", False),
    ("p/m/l/cnc-0?", "p/m/l/cnc-01", True),
    ("p/m/l/cnc-0?", "p/m/l/cnc-10", False),
    ("p/*", "p/m/l/a", False),  # rejected by validate_pattern; never crosses a level
])
def test_pattern_matching(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


@pytest.mark.parametrize("bad", ["", "a//b/c", "a/**/c", "a/b", "a/b**"])
def test_bad_patterns_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_pattern(bad)


def test_unknown_field_is_an_error_naming_it() -> None:
    with pytest.raises(AlertsConfigError, match=r"routes\.0\.escalaton"):
        parse_config({"routes": [{"name": "r", "escalaton": []}]}, source="plant.yaml")


def test_route_naming_an_unknown_channel_is_an_error() -> None:
    with pytest.raises(AlertsConfigError, match="'pager'"):
        parse_config({"routes": [{"name": "r", "escalation": [{"after_s": 0, "channels": ["pager"]}]}]})


def test_escalation_must_start_at_zero_and_increase() -> None:
    ch = {"m": {"url": "json://h/x"}}
    with pytest.raises(AlertsConfigError, match="after_s: 0"):
        parse_config({"channels": ch, "routes": [{"name": "r", "escalation": [{"after_s": 5, "channels": ["m"]}]}]})
    with pytest.raises(AlertsConfigError, match="increasing"):
        parse_config({"channels": ch, "routes": [{"name": "r", "escalation": [
            {"after_s": 0, "channels": ["m"]}, {"after_s": 0, "channels": ["m"]}]}]})


def test_load_config_accepts_a_plant_file_with_an_alerts_section(tmp_path: Path) -> None:
    f = tmp_path / "plant.yaml"
    f.write_text("site: x\nalerts:\n  timezone: Asia/Shanghai\n  channels: {m: {url: 'json://h/x'}}\n")
    cfg = load_config(f)
    assert cfg.timezone == "Asia/Shanghai" and "m" in cfg.channels


def test_env_expansion_names_the_missing_variable() -> None:
    assert expand_env("dingtalk://${TOK}", {"TOK": "abc"}) == "dingtalk://abc"
    with pytest.raises(AlertsConfigError, match="TOK"):
        expand_env("dingtalk://${TOK}", {})


def test_night_shift_spans_midnight() -> None:
    night = Shift(days=["mon"], start=time(22), end=time(6))
    assert night.contains(datetime(2026, 11, 23, 23, 0))  # Monday 23:00
    assert night.contains(datetime(2026, 11, 24, 5, 0))  # Tuesday 05:00 belongs to Monday's shift
    assert not night.contains(datetime(2026, 11, 24, 23, 0))  # Tuesday night is not on
    assert not night.contains(datetime(2026, 11, 23, 12, 0))


def _alert(severity: Severity = Severity.CRITICAL, asset: str = "plant1/machining/line1/cnc") -> Alert:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
    return Alert(1, AssetPath.parse(asset), "pdm", "rul_low", severity, "k", "m", AlertState.FIRING, now, now)


def test_routes_by_subtree_severity_and_shift() -> None:
    cfg = parse_config({
        "timezone": "Asia/Shanghai",
        "channels": {"day": {"url": "json://h/day"}, "night": {"url": "json://h/night"},
                     "all": {"url": "json://h/all"}},
        "routes": [
            {"name": "day", "match": {"assets": ["plant1/**"], "min_severity": "warning"},
             "shifts": [{"start": "08:00", "end": "20:00"}], "continue": True,
             "escalation": [{"after_s": 0, "channels": ["day"]}]},
            {"name": "night", "match": {"assets": ["plant1/**"]}, "shifts": [{"start": "20:00", "end": "08:00"}],
             "escalation": [{"after_s": 0, "channels": ["night"]}]},
            {"name": "rest", "escalation": [{"after_s": 0, "channels": ["all"]}]},
        ]})
    a = _alert()
    at_nine = a.first_seen
    assert [r.name for r in select_routes(cfg, a, at_nine)] == ["day", "rest"]
    at_night = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    assert [r.name for r in select_routes(cfg, a, at_night)] == ["night"]
    assert [r.name for r in select_routes(cfg, _alert(Severity.INFO), at_nine)] == ["rest"]
    assert [r.name for r in select_routes(cfg, _alert(asset="plant2/a/b/c"), at_nine)] == ["rest"]
