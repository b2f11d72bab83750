"""SpcAnalytic: the streaming SPC service's logic, without servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import yaml

from analytics.spc.service import build_spc
from tests.helpers import EXAMPLE_PLANT, example_plant
from twin.events import EventState, Severity
from twin.plant import parse_plant
from twin.readings import Quality, Reading

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)


def gauge_readings(n: int, *, shift_from: int | None = None, shift: float = 0.0, seed: int = 1,
                   start: int = 0) -> list[Reading]:
    plant = example_plant()
    path, _ = plant.asset("gauge-cnc-01")
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        ts = T0 + timedelta(seconds=40 * i)
        mu = shift if shift_from is not None and i >= shift_from else 0.0
        out += [Reading(path, "serial", ts, f"cnc-01-{i:07d}"),
                Reading(path, "bore_diameter_mm", ts, 20.0 + mu + rng.gauss(0, 0.003)),
                Reading(path, "length_mm", ts, 50.0 + rng.gauss(0, 0.01))]
    return out


def test_plant_without_spc_sections_builds_nothing() -> None:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    for sig in raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]["signals"].values():
        sig.pop("spc", None)
    assert build_spc(parse_plant(raw)) is None


def test_subgroups_of_five_make_one_xbar_r_point_each_after_the_baseline() -> None:
    analytic = build_spc(example_plant())
    assert analytic is not None
    out = analytic.process(gauge_readings(200))
    bore = [ln for ln in out.lines if ln.startswith("spc,") and "characteristic=bore_diameter_mm" in ln]
    # 200 parts = 40 subgroups; the first 25 are the Phase I baseline.
    assert len(bore) == 40 - 25
    assert "chart=xbar-r" in bore[0] and "n=5" in bore[0] and "range_ucl=" in bore[0]
    length = [ln for ln in out.lines if ln.startswith("spc,") and "characteristic=length_mm" in ln]
    assert len(length) == 200 - 25 and 'serial="cnc-01-0000025"' in length[0]


def test_redelivered_and_late_measurements_are_charted_once() -> None:
    once, twice = build_spc(example_plant()), build_spc(example_plant())
    assert once is not None and twice is not None
    readings = gauge_readings(150)
    a = once.process(readings)
    b = twice.process(readings[:300])
    b.extend(twice.process(readings[:300] + readings[300:]))  # a redelivered batch, then the rest
    assert [ln for ln in a.lines] == [ln for ln in b.lines]


def test_bad_quality_and_text_values_are_skipped_and_counted() -> None:
    analytic = build_spc(example_plant())
    assert analytic is not None
    path, _ = example_plant().asset("gauge-cnc-01")
    out = analytic.process([Reading(path, "length_mm", T0, None, Quality.BAD, "BadSensorFailure"),
                            Reading(path, "length_mm", T0 + timedelta(seconds=1), "n/a")])
    assert out.lines == [] and analytic.skipped == 2


def test_a_mean_shift_fires_one_condition_per_rule_and_clears_when_back_in_control() -> None:
    analytic = build_spc(example_plant(), clear_after=10)
    assert analytic is not None
    # 3σ shift of the individuals (σ = 0.003 mm) from part 300 to 339, then back on target.
    readings = gauge_readings(340, shift_from=300, shift=0.009)
    readings += gauge_readings(200, start=340, seed=2)
    out = analytic.process(readings)
    bore = [e for e in out.events if e.details.get("characteristic") == "bore_diameter_mm" or "bore" in e.key]
    firing = [e for e in bore if e.state is EventState.FIRING]
    assert firing, "a 3σ mean shift of the individuals did not fire on the X̄ chart"
    beyond = [e for e in firing if e.key == "spc:bore_diameter_mm:xbar:nelson1"]
    # A 6.7σ shift of X̄ (n = 5) leaves the limits at the first complete subgroup after it: parts 300–304.
    assert beyond[0].ts == T0 + timedelta(seconds=40 * 304)
    assert beyond[0].severity is Severity.CRITICAL and beyond[0].source == "spc" and beyond[0].kind == "nelson1"
    assert "bore_diameter_mm" in beyond[0].message and "xbar chart" in beyond[0].message
    last = {e.key: e for e in bore}  # the latest event of each condition
    assert all(e.state is EventState.CLEARED for e in last.values()), "a condition was left open after recovery"
    assert last[beyond[0].key].ts >= T0 + timedelta(seconds=40 * 340)


def test_capability_every_25_points_against_the_spec_limits() -> None:
    analytic = build_spc(example_plant())
    assert analytic is not None
    out = analytic.process(gauge_readings(100))
    caps = [ln for ln in out.lines if ln.startswith("capability,") and "characteristic=length_mm" in ln]
    assert len(caps) == (100 - 25) // 25
    assert "lsl=49.95" in caps[0] and "usl=50.05" in caps[0] and "cpk=" in caps[0] and "cpk_low=" in caps[0]
