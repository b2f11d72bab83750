"""Plant engine: determinism, physics coupling, scenario validation and the labels CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from simulators.engine import PlantEngine, write_labels
from simulators.scenario import load_scenario, parse_duration_s, parse_scenario
from tests.unit.simulators.conftest import START, full_plant, run_engine
from twin.errors import ConfigError


def _fingerprint(seed: int) -> list[object]:
    engine = PlantEngine(full_plant(), scenario=load_scenario("protocol-faults"), seed=seed, tick_s=5, start=START)
    out: list[object] = []
    for _ in range(400):
        frame = engine.step()
        out.append(sorted((str(p), sorted(v.items(), key=str)) for p, v in frame.values.items()))
        out.append([(str(p.asset), p.ts, sorted(p.values.items())) for p in frame.parts])
    out.append([lb.row() for lb in engine.labels])
    return out


def test_same_seed_same_output_and_another_seed_differs() -> None:
    assert _fingerprint(7) == _fingerprint(7)
    assert _fingerprint(7) != _fingerprint(8)


def test_power_follows_state_idle_draws_standby_and_meters_integrate_it() -> None:
    run = run_engine(None, 4 * 3600, assets=frozenset({"cnc-01", "meter-cnc-01", "meter-main"}))
    by_state: dict[str, list[float]] = {}
    for (_, state, _), (_, p, _) in zip(run.series[("cnc-01", "state")], run.series[("cnc-01", "power_kw")],
                                        strict=True):
        by_state.setdefault(str(state), []).append(float(p))  # type: ignore[arg-type]
    idle = sum(by_state["idle"]) / len(by_state["idle"])
    running = sum(by_state["running"]) / len(by_state["running"])
    assert 2.5 < idle < 3.5 and running > idle + 5
    machine = run.values("cnc-01", "power_kw")
    meter = run.values("meter-cnc-01", "power_kw")
    assert all(abs(m - p) < 0.5 for m, p in zip(meter, machine, strict=True))  # type: ignore[operator]
    phases = [run.values("meter-cnc-01", f"power_l{i}_kw") for i in (1, 2, 3)]
    assert all(abs(sum(ph) - m) < 0.01 for *ph, m in zip(*phases, meter, strict=True))  # type: ignore[arg-type]
    energy = run.values("meter-cnc-01", "energy_kwh")
    integral_kwh = sum(meter[1:]) * 5 / 3600  # type: ignore[arg-type]
    assert float(energy[-1]) - float(energy[0]) == pytest.approx(integral_kwh, rel=0.01)  # type: ignore[arg-type]
    assert min(run.values("meter-main", "power_kw")) > 12  # base load plus every machine's standby


def test_durations_accept_seconds_and_units() -> None:
    assert parse_duration_s(90) == 90
    assert parse_duration_s("1h30m") == 5400
    assert parse_duration_s("2d") == 172800
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s("soon")


@pytest.mark.parametrize(("doc", "message"), [
    ({"name": "x", "faults": [{"kind": "bearing_wear", "asset": "cnc-01", "onset": "1h", "failur": "2h"}]},
     "faults[0]: unknown key 'failur'"),
    ({"name": "x", "faults": [{"kind": "melt", "asset": "cnc-01", "onset": 0}]}, "faults[0].kind: unknown fault kind"),
    ({"name": "x", "faults": [{"kind": "bearing_wear", "asset": "cnc-01", "onset": "3h", "failure": "2h"}]},
     "failure must come after onset"),
    ({"name": "x", "duration": "forever"}, "duration: "),
    ({"name": "x", "colour": "red"}, "(top level): unknown key 'colour'"),
])
def test_invalid_scenarios_name_the_field(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario(doc, source="bad.yaml")
    assert "bad.yaml" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(("fault", "message"), [
    ({"kind": "tool_wear", "asset": "cnc-99", "onset": 0}, "faults[0].asset: no asset 'cnc-99'"),
    ({"kind": "air_leak", "asset": "cnc-01", "onset": 0}, "air_leak applies to compressor assets"),
    ({"kind": "sensor_stuck", "asset": "cnc-01", "signal": "nope", "onset": 0}, "faults[0].signal: asset 'cnc-01'"),
    ({"kind": "server_restart", "connection": "nowhere", "onset": 0}, "faults[0].connection: unknown OPC UA"),
    ({"kind": "device_offline", "asset": "cnc-01", "onset": 0}, "device_offline needs an MQTT device"),
])
def test_faults_that_do_not_fit_the_plant_are_rejected(fault: dict[str, object], message: str) -> None:
    scenario = parse_scenario({"name": "x", "faults": [fault]}, source="bad.yaml")
    with pytest.raises(ConfigError) as info:
        scenario.load_plant()
    assert "bad.yaml" in str(info.value) and message in str(info.value)


def test_labels_csv_has_the_documented_columns(tmp_path: Path) -> None:
    run = run_engine(load_scenario("bearing-failure"), 3 * 3600, assets=frozenset())
    path = tmp_path / "labels.csv"
    write_labels(run.labels, path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"asset": "cnc-02", "signal": "bearing_band_energy", "kind": "bearing_wear",
                     "start": "2026-11-23T02:00:00Z", "end": "2026-11-23T20:00:00Z",
                     "failure_time": "2026-11-23T20:00:00Z"}]
