"""SPC across a restart: evaluator and service snapshots continue exactly, and the limits store is the authority.

The reference in every test is an uninterrupted run over the same data: a restart in the
middle (snapshot → JSON bytes → a fresh object restored from them) must give identical
chart points, violations and alert events.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.runtime import Checkpointed, Output
from analytics.spc.config import CharacteristicSpc
from analytics.spc.evaluator import SpcEvaluator
from analytics.spc.points import ChartPoint
from analytics.spc.service import SpcAnalytic, build_spc
from analytics.spc.store import LimitsKey, LimitsStore, make_record, manual_limits
from analytics.state import SnapshotError, encode_snapshot
from tests.helpers import EXAMPLE_PLANT, example_plant
from tests.unit.spc.test_service import gauge_readings
from twin.plant import Plant, parse_plant
from twin.readings import Reading

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)

# Every chart kind the service runs, with data that make its rules fire after the restart.
CHARTS: dict[str, dict[str, Any]] = {
    "imr": {"chart": "imr", "rules": "nelson"},
    "xbar-r": {"chart": "xbar-r", "subgroup_size": 5, "rules": "nelson"},
    "xbar-s": {"chart": "xbar-s", "subgroup_size": 4, "rules": "we"},
    "ewma": {"chart": "ewma", "ewma": {"lam": 0.2, "L": 2.86}},
    "cusum": {"chart": "cusum", "cusum": {"k": 0.5, "h": 4.0, "headstart": 0.5}},
    "np": {"chart": "np", "subgroup_size": 50},
    "c": {"chart": "c"},
}


def series(kind: str, n: int, *, shift_from: int, seed: int = 3) -> list[float]:
    """In-control data, then a shift (a slow drift for the run rules) from `shift_from` on."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        after = i >= shift_from
        if kind == "np":
            p = 0.16 if after else 0.08
            out.append(float(sum(rng.random() < p for _ in range(50))))
        elif kind == "c":
            lam = 9.0 if after else 4.0
            out.append(float(sum(1 for _ in range(40) if rng.random() < lam / 40)))
        else:
            drift = 0.02 * (i - shift_from) if after else 0.0
            out.append(10.0 + drift + rng.gauss(0, 0.1))
    return out


def points(ev: SpcEvaluator, values: list[float], start: int) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(values, start=start):
        p: ChartPoint | None = ev.update(v, T0 + timedelta(seconds=i))
        if p is not None:
            out.append(p.as_dict())
    return out


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint gives back: the state through JSON text."""
    loaded: dict[str, Any] = json.loads(json.dumps(state))
    return loaded


@pytest.mark.parametrize("kind", sorted(CHARTS))
@pytest.mark.parametrize("cut", [13, 150], ids=["during-phase-I", "monitoring"])
def test_an_evaluator_restored_mid_stream_charts_exactly_as_an_uninterrupted_one(kind: str, cut: int) -> None:
    cfg = CharacteristicSpc.model_validate({**CHARTS[kind], "baseline_points": 20})
    n = 400 if kind in ("xbar-r", "xbar-s") else 300
    values = series(kind, n, shift_from=n // 2)
    whole = SpcEvaluator(cfg, name="whole")
    expected = points(whole, values, 0)

    first = SpcEvaluator(cfg, name="first")
    got = points(first, values[:cut], 0)
    resumed = SpcEvaluator(cfg, name="resumed")
    resumed.load_state(round_trip(first.dump_state()))
    got += points(resumed, values[cut:], cut)

    assert got == expected
    assert resumed.limits == whole.limits and resumed.baseline_info == whole.baseline_info
    # The rules (or the EWMA/CUSUM decision) fire after the restart: the continuation is tested, not an idle chart.
    assert any(p["violations"] or p.get("dispersion", {}).get("violations") for p in got[len(got) // 2:])


def test_a_partial_subgroup_and_the_run_rule_window_survive_the_restart() -> None:
    cfg = CharacteristicSpc(chart="xbar-r", subgroup_size=5, center=10.0, sigma=0.1)
    ev = SpcEvaluator(cfg)
    for i in range(13):  # two subgroups and three measurements towards the third
        ev.update(10.2, T0 + timedelta(seconds=i))
    state = round_trip(ev.dump_state())
    assert state["chart"]["buffer"] == [10.2] * 3 and state["chart"]["rules"]["side_run"] == 2
    resumed = SpcEvaluator(cfg)
    resumed.load_state(state)
    p = [resumed.update(10.2, T0 + timedelta(seconds=13 + i)) for i in range(2)][-1]
    assert p is not None and p.index == 2  # the third subgroup, completed by two more measurements


def test_an_evaluator_state_of_another_chart_is_refused() -> None:
    ev = SpcEvaluator(CharacteristicSpc(chart="xbar-r", subgroup_size=5, center=10.0, sigma=0.1))
    for i in range(7):
        ev.update(10.0, T0 + timedelta(seconds=i))
    other = SpcEvaluator(CharacteristicSpc(chart="xbar-r", subgroup_size=2, center=10.0, sigma=0.1))
    with pytest.raises(SnapshotError):
        other.load_state(round_trip(ev.dump_state()))  # a partial subgroup of 2 for subgroups of 2


# -- the streaming service ---------------------------------------------------------------------


def process_in_batches(analytic: SpcAnalytic, readings: list[Reading], size: int = 30) -> Output:
    out = Output()
    for i in range(0, len(readings), size):
        out.extend(analytic.process(readings[i:i + size]))
    return out


def events(out: Output) -> list[bytes]:
    return [e.encode() for e in out.events]


def test_the_service_restored_mid_stream_writes_the_same_points_and_events_and_ignores_the_redelivery() -> None:
    plant = example_plant()
    # Phase I, a 3σ shift of the bore (alerts fire), back on target (alerts clear).
    readings = gauge_readings(340, shift_from=300, shift=0.009) + gauge_readings(200, start=340, seed=2)
    whole = build_spc(plant, clear_after=10)
    assert whole is not None
    expected = process_in_batches(whole, readings)
    assert any(e.state.value == "cleared" for e in expected.events)

    cut = 3 * 310 + 2  # mid-subgroup, mid-violation, mid-part (a part's readings split across the restart)
    first = build_spc(plant, clear_after=10)
    assert first is not None and isinstance(first, Checkpointed)
    got = process_in_batches(first, readings[:cut])
    data = first.snapshot()
    resumed = build_spc(plant, clear_after=10)
    assert resumed is not None
    resumed.restore(data)
    # The broker redelivers the last 40 readings before the cut (acknowledged after the checkpoint).
    got.extend(process_in_batches(resumed, readings[cut - 40:]))

    assert got.lines == expected.lines
    assert events(got) == events(expected)
    redelivered = sum(r.signal != "serial" for r in readings[cut - 40:cut])
    assert redelivered == 27 and resumed.duplicates == whole.duplicates + redelivered  # not charted again
    assert len(data) < 20_000  # a checkpoint per batch must stay cheap


def test_an_unreadable_or_incompatible_snapshot_is_refused_and_leaves_the_service_as_it_was() -> None:
    plant = example_plant()
    analytic = build_spc(plant)
    assert analytic is not None
    analytic.process(gauge_readings(100))
    before = analytic.snapshot()
    bad = [b"not a snapshot", encode_snapshot("spc", 99, {}), encode_snapshot("energy", 1, {}),
           encode_snapshot("spc", 1, {"chars": [{"asset": "x"}]})]
    good = SpcAnalytic(plant)
    chars = json.loads(json.dumps({"chars": [{**c, "streams": [{**s, "evaluator": {"phase": "??"}}
                                                                for s in c["streams"]]}
                                             for c in _state(before)["chars"]]}))
    bad.append(encode_snapshot("spc", 1, {**_state(before), **chars}))
    for data in bad:
        with pytest.raises(SnapshotError):
            analytic.restore(data)
        assert analytic.snapshot() == before
    good.restore(before)
    assert good.snapshot() == before


def _state(data: bytes) -> dict[str, Any]:
    from analytics.state import decode_snapshot

    return decode_snapshot(data, "spc", 1)


def changed_plant(**spc: Any) -> Plant:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    raw["connections"]["opcua"]["cell-1"]["endpoint"] = "opc.tcp://127.0.0.1:1"
    sig = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]["signals"]["length_mm"]
    sig["spc"].update(spc)
    return parse_plant(raw)


def test_a_characteristic_whose_spc_section_changed_starts_afresh_but_still_ignores_redeliveries() -> None:
    plant = example_plant()
    readings = gauge_readings(100)
    first = build_spc(plant)
    assert first is not None
    first.process(readings)
    resumed = build_spc(changed_plant(baseline_points=30))
    assert resumed is not None
    resumed.restore(first.snapshot())
    out = resumed.process(readings[-30:] + gauge_readings(40, start=100))
    length = [ln for ln in out.lines if "characteristic=length_mm" in ln]
    bore = [ln for ln in out.lines if "characteristic=bore_diameter_mm" in ln]
    # A new 30-point Phase I for length_mm on the new parts 100–129, charting from part 130 …
    assert len(length) == 10 and 'serial="cnc-01-0000130"' in length[0]
    assert len(bore) == 140 // 5 - 25  # … while the bore chart continues (its Phase I took 125 parts)
    assert resumed.duplicates == 20  # the redelivered ten parts of both characteristics


# -- the limits store ----------------------------------------------------------------------------


def length_points(out: Output) -> list[str]:
    return [ln for ln in out.lines if ln.startswith("spc,") and "characteristic=length_mm" in ln]


def field(line: str, name: str) -> float:
    fields = line.rsplit(" ", 2)[1]
    return float(dict(kv.split("=", 1) for kv in fields.split(","))[name])


def test_phase_one_limits_are_stored_with_their_data_and_a_restart_charts_against_them_at_once(tmp_path: Path) -> None:
    plant = example_plant()
    store = LimitsStore(tmp_path / "spc-limits.sqlite")
    readings = gauge_readings(130)
    first = build_spc(plant, limits=store, actor="test service")
    assert first is not None
    out = first.process(readings)
    key = LimitsKey("demo-plant/machining/line-1/gauge-cnc-01", "length_mm")
    stored = store.get(key)
    assert stored is not None and stored.action == "estimated" and stored.by == "test service"
    r = stored.record
    assert r.source == "estimated" and r.chart == "imr" and r.samples == 25 and r.points == 25
    assert r.first_ts == T0 and r.last_ts == T0 + timedelta(seconds=40 * 24)
    assert r.ucl is not None and r.lcl is not None and r.cl is not None
    assert r.parameters["L"] == 3.0 and "mrbar" in r.parameters["phase1"]
    assert field(length_points(out)[0], "ucl") == r.ucl
    bore = store.get(LimitsKey(key.asset, "bore_diameter_mm"))
    assert bore is not None and bore.record.samples == 125 and bore.record.points == 25  # 25 subgroups of 5
    assert bore.record.first_ts == T0 and bore.record.last_ts == T0 + timedelta(seconds=40 * 124)

    # A service without a checkpoint (say it was lost) but with the store: no Phase I, the same limits.
    again = build_spc(plant, limits=store)
    assert again is not None
    out = again.process(gauge_readings(10, start=130))
    assert len(length_points(out)) == 10 and {field(ln, "ucl") for ln in length_points(out)} == {r.ucl}
    assert [h.action for h in store.history(key)] == ["estimated"]


def test_a_crash_after_storing_the_estimate_and_before_the_checkpoint_charts_the_same_points(tmp_path: Path) -> None:
    plant = example_plant()
    readings = gauge_readings(80)
    whole = build_spc(plant)
    assert whole is not None
    expected = process_in_batches(whole, readings)

    store = LimitsStore(tmp_path / "spc-limits.sqlite")
    first = build_spc(plant, limits=store)
    assert first is not None
    got = process_in_batches(first, readings[:60])  # twenty parts: no limits yet
    checkpoint = first.snapshot()
    process_in_batches(first, readings[60:120])  # Phase I of length_mm completes and is stored … then kill -9
    assert store.get(LimitsKey("demo-plant/machining/line-1/gauge-cnc-01", "length_mm")) is not None
    resumed = build_spc(plant, limits=store)
    assert resumed is not None
    resumed.restore(checkpoint)  # … the checkpoint before that batch, and the batch redelivered
    got.extend(process_in_batches(resumed, readings[60:]))
    assert got.lines == expected.lines and events(got) == events(expected)


def test_limits_set_or_reset_in_the_store_take_effect_in_a_running_service(tmp_path: Path) -> None:
    plant = example_plant()
    store = LimitsStore(tmp_path / "spc-limits.sqlite")
    analytic = build_spc(plant, limits=store, limits_check_s=0)
    assert analytic is not None
    analytic.process(gauge_readings(40))
    key = LimitsKey("demo-plant/machining/line-1/gauge-cnc-01", "length_mm")
    cfg = CharacteristicSpc(chart="imr", rules="we", lsl=49.95, usl=50.05, target=50.0)
    limits = manual_limits(cfg, cl=50.0, ucl=50.06, lcl=49.94)
    store.put(key, make_record(cfg, limits, source="manual"), action="set", by="J. Wang", reason="MSA")
    out = analytic.process(gauge_readings(5, start=40))
    charted = length_points(out)
    assert len(charted) == 5 and {field(ln, "cl") for ln in charted} == {50.0}
    assert [field(ln, "ucl") for ln in charted] == pytest.approx([50.06] * 5)
    assert [field(ln, "lcl") for ln in charted] == pytest.approx([49.94] * 5)

    store.reset(key, by="J. Wang", reason="re-baseline")
    out = analytic.process(gauge_readings(24, start=45))
    assert length_points(out) == []  # a new Phase I …
    out = analytic.process(gauge_readings(2, start=69))
    assert len(length_points(out)) == 1  # … whose 25th point completes it; the next is charted again
    assert [h.action for h in store.history(key)] == ["estimated", "set", "reset", "estimated"]


def test_limits_set_while_the_service_was_down_win_over_its_checkpoint(tmp_path: Path) -> None:
    plant = example_plant()
    store = LimitsStore(tmp_path / "spc-limits.sqlite")
    first = build_spc(plant, limits=store)
    assert first is not None
    first.process(gauge_readings(60))
    data = first.snapshot()
    key = LimitsKey("demo-plant/machining/line-1/gauge-cnc-01", "length_mm")
    cfg = CharacteristicSpc(chart="imr", rules="we")
    store.put(key, make_record(cfg, manual_limits(cfg, center=50.0, sigma=0.02), source="manual"),
              action="set", by="J. Wang", reason="wider")
    resumed = build_spc(plant, limits=store)
    assert resumed is not None
    resumed.restore(data)
    out = resumed.process(gauge_readings(3, start=60))
    assert [field(ln, "ucl") for ln in length_points(out)] == [pytest.approx(50.06)] * 3
