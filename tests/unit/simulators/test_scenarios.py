"""Each shipped scenario shows its labelled effect in the emitted data, and not before its onset.

The engine is stepped without servers at 5 s ticks. Because every asset draws from its
own seeded random stream, the same seed without faults is an exact counterfactual: before
a fault's onset the two runs are identical, after it they differ by the fault's effect.
"""

from __future__ import annotations

import itertools
import statistics
from datetime import timedelta

import pytest

from simulators.scenario import load_scenario, shipped_scenarios
from tests.unit.simulators.conftest import START, baseline_run, scenario_run

H = 3600.0


def test_at_least_the_six_required_scenarios_ship_and_fit_their_plant() -> None:
    names = set(shipped_scenarios())
    assert {"normal-production", "bearing-failure", "tool-wear-spc-drift", "process-mean-shift", "energy-waste",
            "protocol-faults"} <= names
    for name in names:
        scenario = load_scenario(name)
        assert scenario.load_plant().site == "full-plant"  # check_against_plant raised nothing


def test_normal_production_injects_nothing_and_keeps_parts_in_tolerance() -> None:
    run = scenario_run("normal-production")
    assert run.labels == []
    bores = [v for g in ("gauge-cnc-01", "gauge-cnc-02", "gauge-cnc-03", "gauge-cnc-04")
             for v in run.part_values(g, "bore_diameter_mm")]
    assert len(bores) > 2000  # 4 machines × 8 h at 40 s cycles, less setups and idle time
    assert all(19.985 < b < 20.015 for b in bores)
    states = set(run.values("cnc-01", "state"))
    assert {"running", "idle", "setup"} <= states and "fault" not in states


def test_bearing_band_energy_rises_monotonically_in_trend_to_the_labelled_failure() -> None:
    run = scenario_run("bearing-failure")
    healthy = baseline_run(24 * H)
    (label,) = run.labels
    assert (label.asset, label.signal, label.kind) == ("cnc-02", "bearing_band_energy", "bearing_wear")
    assert label.start == START + timedelta(hours=2)
    assert label.failure_time == label.end == START + timedelta(hours=20)

    def normalised(r: object, t0: float, t1: float) -> float:
        # Order normalisation, as a vibration analyst would: band energy scales with speed².
        series = zip(r.series[("cnc-02", "bearing_band_energy")], r.series[("cnc-02", "spindle_speed")],  # type: ignore[attr-defined]
                     strict=True)
        return statistics.median(e / (s / 8000) ** 2 for (t, e, _), (_, s, _) in series if t0 <= t < t1 and s)

    # Before onset: exactly the healthy machine.
    assert run.values("cnc-02", "bearing_band_energy", 0, 2 * H) == healthy.values("cnc-02", "bearing_band_energy",
                                                                                   0, 2 * H)
    trend = [normalised(run, t, t + 2 * H) for t in range(int(2 * H), int(20 * H), int(2 * H))]
    assert all(b > a for a, b in itertools.pairwise(trend)), trend
    assert trend[-1] > 8 * normalised(healthy, 2 * H, 20 * H)
    # Temperature follows the damage; the machine alarms at the labelled failure and stays out.
    late_temp = statistics.mean(run.values("cnc-02", "spindle_temp", 18 * H, 20 * H))
    assert late_temp > statistics.mean(healthy.values("cnc-02", "spindle_temp", 18 * H, 20 * H)) + 8
    assert "fault" not in run.values("cnc-02", "state", 0, 20 * H)
    assert set(run.values("cnc-02", "state", 20 * H)) <= {"fault", "down"}


def test_tool_wear_drifts_the_bore_out_of_tolerance_only_after_onset() -> None:
    run = scenario_run("tool-wear-spc-drift")
    (label,) = run.labels
    assert (label.asset, label.kind, label.start) == ("cnc-01", "tool_wear", START + timedelta(hours=2))
    assert label.failure_time is not None and label.failure_time > label.start  # the worn insert chipped
    before = run.part_values("gauge-cnc-01", "bore_diameter_mm", 0, 2 * H)
    after = run.part_values("gauge-cnc-01", "bore_diameter_mm", 2 * H)
    assert all(19.985 < b < 20.015 for b in before)
    assert sum(b < 19.985 for b in after) >= 5  # below the lower spec limit
    assert min(after) < min(before) - 0.008
    # The untouched machine next to it is unaffected.
    assert all(19.985 < b < 20.015 for b in run.part_values("gauge-cnc-02", "bore_diameter_mm"))
    # Cutting force rises with wear: spindle load while cutting is higher late in the fault.
    healthy = baseline_run(8 * H)
    def cutting_load(r: object) -> float:
        return statistics.mean(v for v in r.values("cnc-01", "spindle_load", 2 * H) if v)  # type: ignore[attr-defined]
    assert cutting_load(run) > cutting_load(healthy) + 2


def test_mean_shift_and_variance_increase_show_in_the_gauge_feed_after_onset_only() -> None:
    run = scenario_run("process-mean-shift")
    healthy = baseline_run(8 * H)
    shifted = run.part_values("gauge-cnc-03", "bore_diameter_mm")
    normal = healthy.part_values("gauge-cnc-03", "bore_diameter_mm")
    times = [t for t, _ in run.parts["gauge-cnc-03"]]
    diffs = [(t, s - n) for t, s, n in zip(times, shifted, normal, strict=True)]
    assert all(abs(d) < 1e-9 for t, d in diffs if t < 3 * H)
    assert all(abs(d - 0.006) < 1e-6 for t, d in diffs if t >= 3 * H)
    assert any(t >= 3 * H for t, _ in diffs)
    noisy = run.part_values("gauge-cnc-04", "length_mm", 4 * H)
    calm = healthy.part_values("gauge-cnc-04", "length_mm", 4 * H)
    assert run.part_values("gauge-cnc-04", "length_mm", 0, 4 * H) == healthy.part_values("gauge-cnc-04", "length_mm",
                                                                                         0, 4 * H)
    # The added noise has sd·√(k²−1) (k = 2.5, sd 3 µm): total spread 2.5 times the process noise.
    extra = [a - b for a, b in zip(noisy, calm, strict=True)]
    assert 0.0055 < statistics.stdev(extra) < 0.0085
    assert statistics.stdev(noisy) > 1.3 * statistics.stdev(calm)  # on top of thermal drift
    assert [(lb.asset, lb.signal, lb.kind) for lb in run.labels] == [
        ("gauge-cnc-03", "bore_diameter_mm", "mean_shift"), ("gauge-cnc-04", "length_mm", "variance_increase")]


def test_air_leak_raises_compressor_and_plant_energy_after_onset_only() -> None:
    run = scenario_run("energy-waste")
    healthy = baseline_run(12 * H)
    assert run.values("comp-01", "power_kw", 0, 2 * H) == healthy.values("comp-01", "power_kw", 0, 2 * H)

    def kwh(r: object, meter: str, t0: float, t1: float) -> float:
        v = r.values(meter, "energy_kwh", t0, t1)  # type: ignore[attr-defined]
        return float(v[-1] - v[0])

    leak_kwh = kwh(run, "meter-comp-01", 6 * H, 12 * H)
    normal_kwh = kwh(healthy, "meter-comp-01", 6 * H, 12 * H)
    # A 1.5 m³/min leak on a 3.6 m³/min compressor at ~22 kW loaded: several kW on average.
    assert leak_kwh > normal_kwh + 6 * 4
    assert kwh(run, "meter-main", 6 * H, 12 * H) - kwh(healthy, "meter-main", 6 * H, 12 * H) == pytest.approx(
        leak_kwh - normal_kwh, rel=0.15)
    loaded = lambda r, t0, t1: r.values("comp-01", "state", t0, t1).count("load")  # noqa: E731
    assert loaded(run, 6 * H, 12 * H) > loaded(healthy, 6 * H, 12 * H) * 1.3
    assert [(lb.asset, lb.kind) for lb in run.labels] == [("comp-01", "air_leak")]


def test_protocol_faults_happen_in_their_windows() -> None:
    run = scenario_run("protocol-faults")
    healthy = baseline_run(2 * H)
    kinds = {(lb.asset, lb.kind) for lb in run.labels}
    assert {("cnc-01", "server_restart"), ("meter-cnc-01", "device_offline"), ("meter-main", "meter_reset"),
            ("cnc-02", "sensor_stuck"), ("imm-01", "sensor_dropout"), ("comp-02", "sensor_spike")} <= kinds
    # Stuck: one value for ten minutes, moving before and after.
    assert len(set(run.values("cnc-02", "spindle_temp", 40 * 60, 50 * 60))) == 1
    assert len(set(run.values("cnc-02", "spindle_temp", 30 * 60, 40 * 60))) > 10
    # Dropout: no value and a Bad status, only inside the window.
    drop = [(t, v, s) for t, v, s in run.series[("imm-01", "mould_temp")]]
    assert all(v is None and s == "BadSensorFailure" for t, v, s in drop if 50 * 60 <= t < 55 * 60)
    assert all(v is not None and s == "Good" for t, v, s in drop if not 50 * 60 <= t < 55 * 60)
    # Main meter reset to 0 at 30 min; imm-01's counter set near the register limit rolls over.
    main = run.series[("meter-main", "energy_kwh")]
    after = [v for t, v, _ in main if t >= 30 * 60]
    assert all(v > 1000 for t, v, _ in main if t < 30 * 60) and after[0] < 1 and after == sorted(after)
    imm = [v for t, v, _ in run.series[("meter-imm-01", "energy_kwh")] if t >= 15 * 60]
    assert imm[0] > 999_999 and imm[-1] < 100
    # Spikes: exactly at the labelled instants, by the magnitude, nowhere else.
    spikes = {(lb.start - START).total_seconds() for lb in run.labels if lb.kind == "sensor_spike"}
    assert 5 <= len(spikes) <= 25  # 12 per hour on average, one hour
    for (t, v, _), (_, n, _) in zip(run.series[("comp-02", "discharge_pressure_bar")],
                                     healthy.series[("comp-02", "discharge_pressure_bar")], strict=True):
        assert v == pytest.approx(n + 3.0 if t in spikes else n, abs=1e-6)
