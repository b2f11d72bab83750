"""Allocation, energy per good part, idle energy and waste findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.energy.intervals import EnergyInterval
from analytics.energy.kpis import (
    UNASSIGNED,
    AirLeakDetector,
    IdleWasteDetector,
    Span,
    allocate,
    idle_energy_kwh,
    kwh_per_good_part,
)

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_allocation_to_products_splits_at_run_edges_and_sums_to_the_meter() -> None:
    # 0–60 min, 60 kWh (1 kWh/min). Product A 0–20, product B 30–60, changeover 20–30 unassigned.
    ivs = [EnergyInterval(at(0), at(30), 30.0), EnergyInterval(at(30), at(60), 30.0)]
    spans = [Span(at(0), at(20), "A"), Span(at(30), at(60), "B")]
    by_product = {k: round(v, 6) for k, v in allocate(ivs, spans).items()}
    assert by_product == {"A": 20.0, UNASSIGNED: 10.0, "B": 30.0}


def test_idle_energy_by_machine_state() -> None:
    ivs = [EnergyInterval(at(0), at(60), 12.0)]
    states = [Span(at(0), at(45), "running"), Span(at(45), at(55), "idle"), Span(at(55), at(60), "off")]
    assert round(idle_energy_kwh(ivs, states), 6) == 2.0  # 10 of 60 minutes of 12 kWh


def test_energy_per_good_part() -> None:
    assert kwh_per_good_part(120.0, 480) == 0.25
    assert kwh_per_good_part(120.0, 0) is None


def test_idle_machine_drawing_power_is_reported_open_then_closed() -> None:
    det = IdleWasteDetector(asset="cnc-01", standby_threshold_kw=2.0, min_duration_s=600.0)
    findings = []
    for m in range(0, 30):
        state, power_kw = ("running", 10.0) if m < 5 or m >= 21 else ("idle", 3.0)
        findings += det.update(at(m), power_kw, state)
    assert [f.status for f in findings] == ["open", "closed"]
    opened, closed = findings
    assert (opened.start, opened.end) == (at(5), at(15))
    assert round(opened.energy_kwh, 6) == 0.5  # 3 kW × 10 min
    assert (closed.start, closed.end) == (at(5), at(21))
    assert round(closed.energy_kwh, 6) == 0.8  # 3 kW × 16 min
    assert round(closed.mean_power_kw, 6) == 3.0
    assert "cnc-01: idle but drawing power for 16 min" in closed.message


def test_idle_below_standby_threshold_or_short_is_not_waste() -> None:
    det = IdleWasteDetector(asset="cnc-01", standby_threshold_kw=2.0, min_duration_s=600.0)
    findings = [f for m in range(60) for f in det.update(at(m), 1.5, "idle")]
    short = IdleWasteDetector(asset="cnc-02", standby_threshold_kw=2.0, min_duration_s=600.0)
    findings += [f for m in range(12) for f in short.update(at(m), 5.0, "idle" if 2 <= m < 8 else "running")]
    assert findings == []


def test_compressor_loaded_while_plant_idle_is_an_air_leak() -> None:
    det = AirLeakDetector(asset="compressor-1", loaded_threshold_kw=5.0, min_duration_s=1800.0)
    findings = []
    for step in range(0, 30):  # 5-minute samples; production stops at step 6 and restarts at step 24
        producing = step < 6 or step >= 24
        findings += det.update(at(5 * step), 15.0, producing)
    assert [f.status for f in findings] == ["open", "closed"]
    closed = findings[1]
    assert (closed.start, closed.end) == (at(30), at(120))
    assert round(closed.energy_kwh, 6) == 22.5  # 15 kW × 1.5 h
    assert closed.kind == "air_leak"
