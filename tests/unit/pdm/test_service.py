"""PdmAnalytic: auto-baseline then scoring, schema-typed health points, alert events, hot reload, bad readings."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from influxdb_client.client.write.point import Point

from analytics.pdm.config import PdmAssetConfig
from analytics.pdm.service import ALERT_KEY, PdmAnalytic, build_pdm, learn_baseline, model_key
from analytics.pdm.store import ModelRegistry, save_model
from analytics.runtime import Output
from tests.helpers import example_plant
from twin.events import EventState, Severity
from twin.readings import Quality, Reading
from twin.topics import AssetPath

ASSET = AssetPath("plant1", "machining", "line1", "cnc-01")
CONFIG = PdmAssetConfig(component="spindle bearing", vibration=["vib"], trend=["band"], temperature=["temp"],
                        window_s=60, hop_s=10, baseline_windows=60)
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def readings(seconds: int, *, start_s: int = 0, seed: int = 0, growth_per_h: float = 0.0,
             quality: Quality = Quality.GOOD) -> Iterator[Reading]:
    """One reading per signal per second; after start_s the defect grows by growth_per_h e-folds per hour."""
    rng = np.random.default_rng(seed)
    for k in range(start_s, start_s + seconds):
        d = math.exp(growth_per_h * (k - start_s) / 3600)
        ts = T0 + timedelta(seconds=k)
        yield Reading(ASSET, "vib", ts, float(rng.normal(0, 1.0 + 0.2 * (d - 1))), quality)
        yield Reading(ASSET, "band", ts, float(d * math.exp(rng.normal(0, 0.1))), quality)
        yield Reading(ASSET, "temp", ts, float(40 + 0.5 * (d - 1) + rng.normal(0, 0.2)), quality)


def run(analytic: PdmAnalytic, items: Iterator[Reading], batch: int = 300) -> Output:
    out = Output()
    buf: list[Reading] = []
    for r in items:
        if analytic.wants(r):
            buf.append(r)
        if len(buf) >= batch:
            out.extend(analytic.process(buf))
            buf = []
    out.extend(analytic.process(buf))
    return out


def parse_line(line: str) -> tuple[dict[str, str], dict[str, str]]:
    head, fields, _ts = line.rsplit(" ", 2)
    tags = dict(kv.split("=", 1) for kv in head.split(",")[1:])
    return tags, dict(kv.split("=", 1) for kv in fields.split(","))


def test_learns_a_baseline_saves_it_and_then_scores(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path, check_interval_s=0)
    out = run(analytic, readings(650))  # windows end at 60, 70, …, 640 s: 59 of the 60 needed
    assert out.lines == [] and analytic.learning(ASSET) == 60 - 1
    out = run(analytic, readings(600, start_s=650, seed=1))
    assert analytic.learning(ASSET) is None
    assert len(out.lines) >= 55 and out.events == []
    saved = ModelRegistry(tmp_path).get(model_key(ASSET))
    assert saved is not None and saved.info.n_train == 60 and saved.info.version == 1
    health = analytic.health(ASSET)
    assert health is not None and health.state == "normal"


def test_health_points_follow_the_schema_with_float_fields(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path)
    run(analytic, readings(660))
    out = run(analytic, readings(3 * 3600, start_s=660, seed=2, growth_per_h=1.5))
    assert out.lines
    keys_seen: set[str] = set()
    for line in out.lines:
        assert line.startswith("health,")
        tags, fields = parse_line(line)
        assert tags == {"area": "machining", "asset": "cnc-01", "line": "line1", "site": "plant1"}
        keys_seen |= set(fields)
        assert fields["state"] in ('"normal"', '"warning"', '"alarm"')
        for key in ("health_index", "anomaly_score", "model_version", "rul_hours", "rul_low_hours",
                    "rul_high_hours"):
            if key in fields:
                assert not fields[key].endswith("i") and float(fields[key]) >= 0  # floats, never integers
    assert {"rul_hours", "rul_low_hours", "rul_high_hours"} <= keys_seen  # present once a trend is known
    _, first = parse_line(out.lines[0])
    assert "rul_hours" not in first  # and left out while unknown
    # Byte-for-byte what influxdb-client's Point makes of the same values.
    tags, fields = parse_line(out.lines[0])
    point = Point("health")
    for k, v in tags.items():
        point.tag(k, v)
    for k, v in fields.items():
        point.field(k, v.strip('"') if v.startswith('"') else float(v))
    point.time(int(out.lines[0].rsplit(" ", 1)[1]))
    assert point.to_line_protocol() == out.lines[0]


def test_fires_then_escalates_then_clears_without_flapping(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path, alert_refresh_s=0)
    run(analytic, readings(660))
    healthy = run(analytic, readings(1800, start_s=660, seed=3))
    assert healthy.events == []
    degrading = run(analytic, readings(3 * 3600, start_s=2460, seed=4, growth_per_h=1.5))
    firing = [e for e in degrading.events if e.state is EventState.FIRING]
    assert firing and {e.key for e in degrading.events} == {ALERT_KEY}
    assert firing[0].kind == "health_warning" and firing[0].severity is Severity.WARNING
    assert firing[-1].kind == "health_alarm" and firing[-1].severity is Severity.CRITICAL
    assert firing[0].message.startswith("cnc-01 spindle bearing: health ")
    assert any("failure threshold expected in" in e.message for e in firing)
    assert all(e.source == "pdm" and e.asset == ASSET for e in degrading.events)
    # normal → warning, warning → alarm, plus one update when the RUL first became known
    assert len(firing) <= 3
    assert not any(e.state is EventState.CLEARED for e in degrading.events)
    # Repaired: healthy again → exactly one cleared event.
    repaired = run(analytic, readings(1800, start_s=2460 + 3 * 3600, seed=5))
    states = [e.state for e in repaired.events]
    assert states[-1] is EventState.CLEARED and states.count(EventState.CLEARED) == 1
    # On the way down the alarm may step back to a warning first (the same alert, lower level).
    assert all(e.details["previous_state"] == "alarm" for e in repaired.events[:-1])
    assert "back to normal" in repaired.events[-1].message


def test_score_at_the_threshold_does_not_flap(tmp_path: Path) -> None:
    # With 10 s hops, 3 windows are 30 s; a state must hold 10 min of source time here.
    cfg = CONFIG.model_copy(update={"dwell_s": 600.0})
    analytic = PdmAnalytic({ASSET: cfg}, tmp_path, alert_refresh_s=0)
    run(analytic, readings(660))
    # A defect held at a level that puts the score around the control limit for hours.
    rng = np.random.default_rng(7)
    model = ModelRegistry(tmp_path).get(model_key(ASSET))
    assert model is not None

    def hovering() -> Iterator[Reading]:
        for k in range(660, 660 + 4 * 3600):
            ts = T0 + timedelta(seconds=k)
            yield Reading(ASSET, "vib", ts, float(rng.normal(0, 1.0)))
            yield Reading(ASSET, "band", ts, float(1.06 * math.exp(rng.normal(0, 0.1))))
            yield Reading(ASSET, "temp", ts, float(40 + rng.normal(0, 0.2)))

    out = run(analytic, hovering())
    scores = [float(line.split("anomaly_score=")[1].split(",")[0]) for line in out.lines]
    above = sum(x >= 1.0 for x in scores) / len(scores)
    assert 0.05 < above < 0.95  # the score does hover about the limit
    assert len(out.events) <= 4  # a few state changes in four hours, not one per window


def test_a_retrained_model_file_is_picked_up_without_restart(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path, check_interval_s=0)
    run(analytic, readings(660))
    out = run(analytic, readings(600, start_s=660, seed=1))
    assert out.lines[-1].split("model_version=")[1].startswith("1")
    # `twin pdm train…` writes version 2 into the folder while the service runs.
    first = ModelRegistry(tmp_path).get(model_key(ASSET))
    assert first is not None
    from analytics.pdm.features import FeatureVector
    rows = [FeatureVector(ts_s=float(i), values={n: float(v) for n, v in zip(first.feature_names, first.center * (
        1 + 0.01 * np.random.default_rng(i).normal(size=len(first.center))), strict=True)}) for i in range(40)]
    save_model(learn_baseline(rows, asset=model_key(ASSET), config=CONFIG, version=2), tmp_path)
    time.sleep(0.01)
    out = run(analytic, readings(120, start_s=1260, seed=2))
    assert out.lines and all("model_version=2" in line for line in out.lines)


def test_bad_and_non_numeric_readings_are_skipped(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path)
    bad = list(readings(700, quality=Quality.BAD))
    out = analytic.process(bad)
    assert out.lines == [] and analytic.learning(ASSET) == 0 and analytic.skipped_readings == len(bad)
    other = AssetPath("plant1", "machining", "line1", "cnc-99")
    junk = [Reading(ASSET, "vib", T0, None, Quality.BAD, "BadSensorFailure"), Reading(ASSET, "vib", T0, "n/a"),
            Reading(ASSET, "vib", T0, math.nan), Reading(ASSET, "spindle_speed", T0, 1.0),
            Reading(other, "vib", T0, 1.0)]
    assert [analytic.wants(r) for r in junk] == [True, True, True, False, False]
    assert analytic.process(junk).lines == []
    # Interleaving bad readings into a good stream changes nothing.
    clean = PdmAnalytic({ASSET: CONFIG}, tmp_path / "a")
    mixed = PdmAnalytic({ASSET: CONFIG}, tmp_path / "b")
    good = list(readings(1300))
    noisy = [x for r in good for x in (r, Reading(ASSET, r.signal, r.ts, None, Quality.BAD))]
    assert run(clean, iter(good)).lines == run(mixed, iter(noisy)).lines


def test_running_gate_and_regimes_learn_one_baseline_per_program(tmp_path: Path) -> None:
    cfg = CONFIG.model_copy(update={"running_signal": "speed", "regime_signal": "program", "baseline_windows": 20})
    analytic = PdmAnalytic({ASSET: cfg}, tmp_path)

    def program(name: str, start_s: int, seconds: int) -> Iterator[Reading]:
        yield Reading(ASSET, "program", T0 + timedelta(seconds=start_s), name)
        for k, r in enumerate(readings(seconds, start_s=start_s)):
            if k % 3 == 0:
                # Stopped for 5 s of every 30: those samples must not count.
                yield Reading(ASSET, "speed", r.ts, 0.0 if (k // 3) % 30 < 5 else 8000.0)
            yield r

    run(analytic, program("O1", 0, 600))
    run(analytic, program("O2", 600, 600))
    keys = ModelRegistry(tmp_path).assets()
    assert keys == [model_key(ASSET, "O1"), model_key(ASSET, "O2")]
    out = run(analytic, program("O1", 1200, 300))
    assert out.lines  # back on O1: its baseline scores, no relearning
    assert ModelRegistry(tmp_path).assets() == keys


def test_build_pdm_takes_the_assets_with_a_pdm_section(tmp_path: Path) -> None:
    plant = example_plant()
    analytic = build_pdm(plant, tmp_path)
    assert analytic is not None and [p.asset for p in analytic.assets] == ["cnc-01"]
    assert build_pdm(plant.model_copy(update={"areas": {}}), tmp_path) is None


@pytest.mark.parametrize("signal", ["running_signal", "regime_signal"])
def test_build_pdm_rejects_an_unknown_gate_signal(tmp_path: Path, signal: str) -> None:
    from twin.errors import ConfigError

    plant = example_plant()
    path, asset = plant.asset("cnc-01")
    assert asset.pdm is not None
    bad_asset = asset.model_copy(update={"pdm": asset.pdm.model_copy(update={signal: "nope"})})
    line = plant.areas[path.area].lines[path.line]
    bad_line = line.model_copy(update={"assets": {**line.assets, "cnc-01": bad_asset}})
    area = plant.areas[path.area].model_copy(update={"lines": {path.line: bad_line}})
    with pytest.raises(ConfigError, match=signal):
        build_pdm(plant.model_copy(update={"areas": {path.area: area}}), tmp_path)
