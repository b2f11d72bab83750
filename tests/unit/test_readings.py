"""The telemetry payload: round trip, and a clear error for every kind of bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twin.errors import PayloadError
from twin.readings import Quality, Reading, decode, encode
from twin.topics import AssetPath, asset_topic, parse_asset_topic

ASSET = AssetPath("s", "a", "l", "m")
TS = datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)


def test_round_trip_keeps_every_field() -> None:
    readings = [
        Reading(ASSET, "speed", TS, 1200.5),
        Reading(ASSET, "state", TS, "running"),
        Reading(ASSET, "temp", TS, None, Quality.BAD, "BadSensorFailure"),
        Reading(ASSET, "door", TS, True, Quality.UNCERTAIN, "UncertainLastUsableValue"),
    ]
    assert decode(encode(ASSET, readings, agent="e1"), expected_asset=ASSET) == readings


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe", "not JSON"),
    (b"[1,2]", "must be a JSON object"),
    (b'{"v": 2, "asset": "s/a/l/m", "readings": []}', "unsupported payload version 2"),
    (b'{"v": 1, "readings": []}', "missing 'asset'"),
    (b'{"v": 1, "asset": "s/a/l", "readings": []}', "asset path must be"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": []}', "'readings' must be a non-empty list"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": [{"signal": "x", "value": 1}]}', r"readings\[0\].ts is missing"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": [{"signal": "x", "ts": "2026-01-01T00:00:00", "value": 1}]}',
     "has no time zone"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": [{"signal": "x", "ts": "2026-01-01T00:00:00Z", "value": [1]}]}',
     r"readings\[0\].value must be"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": [{"signal": "x", "ts": "2026-01-01T00:00:00Z", "quality": "ok"}]}',
     r"readings\[0\].quality must be one of"),
    (b'{"v": 1, "asset": "s/a/l/m", "readings": [{"ts": "2026-01-01T00:00:00Z"}]}', r"readings\[0\].signal"),
])
def test_bad_payloads_say_what_is_wrong(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode(payload)


def test_payload_asset_must_match_topic() -> None:
    payload = encode(ASSET, [Reading(ASSET, "x", TS, 1.0)], agent="e1")
    with pytest.raises(PayloadError, match="does not match topic asset"):
        decode(payload, expected_asset=AssetPath("s", "a", "l", "other"))


def test_topic_scheme_round_trip() -> None:
    topic = asset_topic(ASSET, "telemetry")
    assert topic == "twin/v1/s/a/l/m/telemetry"
    assert parse_asset_topic(topic) == (ASSET, "telemetry")
    with pytest.raises(ValueError):
        parse_asset_topic("twin/v1/_sys/deadletter/ingest/x")
    with pytest.raises(ValueError):
        asset_topic(ASSET, "nonsense")


def test_number_is_the_value_only_when_good_numeric_and_finite() -> None:
    asset = AssetPath("s", "a", "l", "m")
    ts = datetime(2026, 11, 26, tzinfo=UTC)
    assert Reading(asset, "x", ts, 3).number == 3.0
    assert Reading(asset, "x", ts, 2.5).number == 2.5
    assert Reading(asset, "x", ts, 2.5, Quality.UNCERTAIN).number is None
    assert Reading(asset, "x", ts, None, Quality.BAD, "BadSensorFailure").number is None
    assert Reading(asset, "x", ts, True).number is None
    assert Reading(asset, "x", ts, "running").number is None
    assert Reading(asset, "x", ts, float("nan")).number is None
