"""SpcAnalytic: the streaming SPC service's logic, without servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from analytics.spc.cli import spc
from analytics.spc.config import CharacteristicSpc
from analytics.spc.evaluator import SpcEvaluator
from analytics.spc.service import SpcAnalytic, build_spc
from tests.helpers import EXAMPLE_PLANT, example_plant
from twin.events import EventState, Severity
from twin.plant import parse_plant
from twin.readings import Quality, Reading
from twin.topics import AssetPath

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


# -- per-product charts, alert lifecycle, line protocol types ---------------------------------


def product_plant(*, clear_after: int = 10, capability_every: int = 25) -> tuple[SpcAnalytic, AssetPath]:
    """The example gauge with a recipe signal and known per-product process parameters."""
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    gauge = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]
    gauge["product_signal"] = "recipe"
    gauge["signals"]["recipe"] = {"mqtt": {"topic": "devices/gauges/cnc-01", "path": "$.recipe"}}
    gauge["signals"]["bore_diameter_mm"]["spc"]["products"] = {
        "P-20": {"center": 20.0, "sigma": 0.003}, "P-25": {"lsl": 24.98, "usl": 25.02, "center": 25.0, "sigma": 0.003}}
    gauge["signals"]["length_mm"]["spc"] = {
        "chart": "imr", "rules": "we", "lsl": 49.95, "usl": 50.05, "center": 50.0, "sigma": 0.01,
        "products": {"P-60": {"lsl": 59.9, "usl": 60.1, "center": 60.0, "sigma": 0.02}}}
    plant = parse_plant(raw)
    analytic = build_spc(plant, clear_after=clear_after, capability_every=capability_every)
    assert analytic is not None
    return analytic, plant.asset("gauge-cnc-01")[0]


def fields_of(line: str) -> dict[str, str]:
    """The raw field values of one line-protocol line (quoted strings kept quoted)."""
    rest = line.split(" ", 1)[1]
    body = rest[:rest.rindex(" ")]
    out: dict[str, str] = {}
    key, value, quoted, i = "", "", False, 0
    reading_key = True
    while i < len(body):
        c = body[i]
        if reading_key:
            if c == "=":
                reading_key = False
            else:
                key += c
        elif c == "\\" and quoted:
            value += body[i:i + 2]
            i += 1
        elif c == '"':
            quoted = not quoted
            value += c
        elif c == "," and not quoted:
            out[key], key, value, reading_key = value, "", "", True
        else:
            value += c
        i += 1
    out[key] = value
    return out


def tags_of(line: str) -> dict[str, str]:
    return dict(t.split("=", 1) for t in line.split(" ", 1)[0].split(",")[1:])


def test_each_product_is_charted_against_its_own_limits() -> None:
    analytic, gauge = product_plant()
    readings: list[Reading] = []
    rng = random.Random(3)
    for i, (recipe, mu) in enumerate([("P-60", 60.0)] * 10 + [("P-50", 50.0)] * 10):
        ts = T0 + timedelta(seconds=40 * i)
        readings += [Reading(gauge, "recipe", ts, recipe), Reading(gauge, "length_mm", ts, mu + rng.gauss(0, 0.005))]
    lines = [ln for ln in analytic.process(readings).lines if "characteristic=length_mm" in ln]
    assert len(lines) == 20  # known parameters: no Phase I baseline
    first, last = fields_of(lines[0]), fields_of(lines[-1])
    # P-60 has its own centre and σ = 0.02 (limits ±0.06); P-50 is not listed, so the defaults apply.
    assert (float(first["cl"]), float(first["ucl"]), float(first["lcl"])) == (60.0, 60.06, 59.94)
    assert (float(last["cl"]), float(last["ucl"]), float(last["lcl"])) == (50.0, 50.03, 49.97)
    assert all(fields_of(ln)["violation"] == '""' for ln in lines), "a changeover was charted as a shift"


def test_a_product_changeover_ends_the_partial_subgroup() -> None:
    analytic, gauge = product_plant()
    readings: list[Reading] = []
    # 3 parts of P-20, 5 of P-25, then 5 of P-20: the 3 early P-20 parts must not be
    # completed by 2 parts of the later run (they were not made together).
    plan = [("P-20", 20.0)] * 3 + [("P-25", 25.0)] * 5 + [("P-20", 20.0)] * 5
    for i, (recipe, mu) in enumerate(plan):
        ts = T0 + timedelta(seconds=40 * i)
        readings += [Reading(gauge, "recipe", ts, recipe),
                     Reading(gauge, "bore_diameter_mm", ts, mu + (0.001 if i % 2 else -0.001))]
    bore = [fields_of(ln) for ln in analytic.process(readings).lines if "characteristic=bore_diameter_mm" in ln]
    assert [float(f["cl"]) for f in bore] == [25.0, 20.0]
    assert [float(f["n"]) for f in bore] == [5.0, 5.0]


def test_capability_is_computed_per_product_against_its_spec_limits() -> None:
    analytic, gauge = product_plant(capability_every=10)
    rng = random.Random(4)
    readings: list[Reading] = []
    for i, (recipe, mu) in enumerate([("P-60", 60.0)] * 20 + [("P-50", 50.0)] * 20):
        ts = T0 + timedelta(seconds=40 * i)
        readings += [Reading(gauge, "recipe", ts, recipe), Reading(gauge, "length_mm", ts, mu + rng.gauss(0, 0.005))]
    caps = [fields_of(ln) for ln in analytic.process(readings).lines
            if ln.startswith("capability,") and "characteristic=length_mm" in ln]
    assert [(float(c["lsl"]), float(c["usl"])) for c in caps] == [(59.9, 60.1)] * 2 + [(49.95, 50.05)] * 2
    # Each product's window holds only its own parts: the means stay at its own nominal.
    assert [round(float(c["mean"])) for c in caps] == [60, 60, 50, 50]
    assert all(float(c["n"]) in (10.0, 20.0) for c in caps)


def test_one_violation_fires_once_per_condition_and_clears_after_enough_in_control_points() -> None:
    analytic, gauge = product_plant(clear_after=10)
    # Alternating ±0.5σ around the centre breaks no Western Electric rule; one point at +5σ breaks we1.
    values = [50.0 + (0.005 if i % 2 else -0.005) for i in range(30)]
    values[10] = 50.05
    readings = [Reading(gauge, "length_mm", T0 + timedelta(seconds=40 * i), v) for i, v in enumerate(values)]
    events = analytic.process(readings).events
    firing = [e for e in events if e.state is EventState.FIRING]
    cleared = [e for e in events if e.state is EventState.CLEARED]
    x_key = "spc:length_mm:x:we1"
    assert [e.key for e in firing if e.key == x_key] == [x_key]
    fired = next(e for e in firing if e.key == x_key)
    assert fired.ts == T0 + timedelta(seconds=400) and fired.severity is Severity.CRITICAL
    assert fired.kind == "we1" and fired.source == "spc" and fired.asset == gauge
    assert "length_mm" in fired.message and "we1" in fired.message and "2026-11-26T08:06:40" in fired.message
    assert fired.details["points"] == [(T0 + timedelta(seconds=400)).isoformat()]
    assert fired.details["machine"] == "cnc-01"
    # The moving range leaves its limit twice (into and out of the outlier): the MR chart's own condition.
    assert sorted({e.key for e in firing}) == ["spc:length_mm:mr:we1", x_key]
    # Cleared once per condition, at the 10th in-control point after the last violation (part 11).
    assert sorted(e.key for e in cleared) == ["spc:length_mm:mr:we1", x_key]
    assert all(e.ts == T0 + timedelta(seconds=40 * 21) for e in cleared)
    # Redelivering the whole stream charts nothing twice and raises nothing again.
    again = analytic.process(readings)
    assert again.lines == [] and again.events == [] and analytic.duplicates == len(readings)


def test_a_batch_is_charted_in_source_time_order_and_a_late_sample_after_it_is_dropped() -> None:
    analytic, gauge = product_plant()
    r = Reading(gauge, "length_mm", T0, 50.001)
    out = analytic.process([r, r, Reading(gauge, "length_mm", T0 - timedelta(seconds=1), 50.002)])
    assert [fields_of(ln)["value"] for ln in out.lines] == ["50.002", "50.001"] and analytic.duplicates == 1
    late = analytic.process([Reading(gauge, "length_mm", T0 - timedelta(seconds=2), 50.003)])
    assert late.lines == [] and analytic.duplicates == 2


def test_line_protocol_fields_are_typed_as_the_schema_says() -> None:
    analytic = build_spc(example_plant())
    assert analytic is not None
    lines = analytic.process(gauge_readings(200, shift_from=150, shift=0.02)).lines
    spc = [ln for ln in lines if ln.startswith("spc,")]
    caps = [ln for ln in lines if ln.startswith("capability,")]
    assert spc and caps
    for ln in spc:
        assert set(tags_of(ln)) == {"site", "area", "line", "asset", "characteristic", "chart"}
        fields = fields_of(ln)
        strings = {k for k, v in fields.items() if v.startswith('"')}
        assert strings <= {"violation", "serial"} and "violation" in strings
        for k, v in fields.items():
            if k not in strings:
                float(v)  # a float: integers would carry an "i" suffix and fix the field's type as integer
                assert not v.endswith("i")
    bore = [fields_of(ln) for ln in spc if "chart=xbar-r" in ln]
    assert {"value", "cl", "ucl", "lcl", "range_value", "range_cl", "range_ucl", "range_lcl", "n",
            "violations"} <= set(bore[0])
    assert any(f["violation"] != '""' for f in bore), "the shift was not recorded"
    for ln in caps:
        assert set(tags_of(ln)) == {"site", "area", "line", "asset", "characteristic"}
        fields = fields_of(ln)
        assert {"cp", "cpk", "pp", "ppk", "cpm", "cpk_low", "cpk_high", "n", "mean", "sigma_within",
                "sigma_overall", "normality_p", "lsl", "usl"} <= set(fields)
        assert all(not v.startswith('"') and not v.endswith("i") for v in fields.values())


def test_a_dispersion_rule_is_named_with_its_chart_in_the_violation_field() -> None:
    analytic, gauge = product_plant()
    values = [50.0 + (0.005 if i % 2 else -0.005) for i in range(6)]
    values[3] = 50.05
    lines = analytic.process([Reading(gauge, "length_mm", T0 + timedelta(seconds=i), v)
                              for i, v in enumerate(values)]).lines
    assert [fields_of(ln)["violation"] for ln in lines][2:5] == ['""', '"we1,mr:we1"', '"mr:we1"']
    assert [fields_of(ln)["violations"] for ln in lines][3:5] == ["2", "1"]


def test_discarding_a_partial_subgroup_during_the_baseline_and_while_monitoring() -> None:
    cfg = CharacteristicSpc(chart="xbar-r", subgroup_size=5, baseline_points=2)
    ev = SpcEvaluator(cfg)
    for x in (1.0, 1.1, 0.9):
        ev.update(x)
    assert ev.discard_pending() == 3 and ev.discard_pending() == 0
    for i in range(10):  # two subgroups: the baseline, then monitoring
        ev.update(1.0 + 0.01 * (i % 3))
    assert ev.phase == "monitoring"
    ev.update(1.0)
    ev.update(1.02)
    assert ev.discard_pending() == 2
    assert [ev.update(1.0 + 0.01 * (i % 3)) is None for i in range(5)] == [True] * 4 + [False]


def test_spc_run_refuses_a_plant_without_spc_sections_and_a_bad_setting(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    for sig in raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]["signals"].values():
        sig.pop("spc", None)
    plain = tmp_path / "plant.yaml"
    plain.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(spc, ["run", "--plant", str(plain)])
    assert result.exit_code == 1 and "no signal in the plant file has an spc: section" in result.output
    result = CliRunner().invoke(spc, ["run", "--plant", str(EXAMPLE_PLANT)], env={"TWIN_INFLUX_URL": "ftp://x"})
    assert result.exit_code == 1 and "TWIN_INFLUX_URL" in result.output and "Traceback" not in result.output


def test_counts_stream_into_c_and_np_charts_and_p_charts_without_sizes_are_skipped(
        caplog: pytest.LogCaptureFixture) -> None:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    signals = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]["signals"]
    binding = {"topic": "devices/gauges/cnc-01", "path": "$.n"}
    signals["scratches"] = {"mqtt": binding, "spc": {"chart": "c", "center": 2.0}}
    signals["rejects"] = {"mqtt": binding, "spc": {"chart": "np", "subgroup_size": 50, "center": 0.04}}
    signals["reject_share"] = {"mqtt": binding, "spc": {"chart": "p", "center": 0.04}}
    plant = parse_plant(raw)
    gauge, _ = plant.asset("gauge-cnc-01")
    analytic = build_spc(plant)
    assert analytic is not None
    readings = [Reading(gauge, s, T0 + timedelta(minutes=i), float(i % 4))
                for i in range(10) for s in ("scratches", "rejects", "reject_share")]
    lines = analytic.process(readings).lines
    c = [fields_of(ln) for ln in lines if "characteristic=scratches" in ln]
    assert len(c) == 10 and float(c[0]["ucl"]) == pytest.approx(2 + 3 * 2 ** 0.5)
    assert len([ln for ln in lines if "characteristic=rejects" in ln]) == 10
    assert not [ln for ln in lines if "characteristic=reject_share" in ln] and analytic.skipped == 10
    assert len([r for r in caplog.records if "reject_share" in r.getMessage()]) == 1


def test_the_product_applies_to_its_own_part_whatever_the_order_and_a_redelivered_one_is_ignored() -> None:
    analytic, gauge = product_plant()
    t1, t2 = T0 + timedelta(seconds=40), T0 + timedelta(seconds=80)
    # The measurement listed before the product reading of the same part.
    out = analytic.process([Reading(gauge, "length_mm", T0, 60.01), Reading(gauge, "recipe", T0, "P-60")])
    assert float(fields_of(out.lines[0])["cl"]) == 60.0
    out = analytic.process([Reading(gauge, "recipe", t1, "P-50"), Reading(gauge, "length_mm", t1, 50.001)])
    assert float(fields_of(out.lines[0])["cl"]) == 50.0
    # A redelivered old message (product P-60 at T0) must not switch the chart back to P-60.
    out = analytic.process([Reading(gauge, "recipe", T0, "P-60"), Reading(gauge, "length_mm", T0, 60.01),
                            Reading(gauge, "length_mm", t2, 50.002)])
    assert [float(fields_of(ln)["cl"]) for ln in out.lines] == [50.0]
