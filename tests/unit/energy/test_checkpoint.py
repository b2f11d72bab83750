"""Energy across a restart: totals, idle energy, parts and alerts equal those of an uninterrupted run.

The reference is one `EnergyAnalytic` fed everything; the other is fed the first part,
snapshotted, and a fresh analytic restored from those bytes is fed the rest — with the
last batches before the cut delivered again, as the broker does after a crash between
the checkpoint and the acknowledgement.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from analytics.energy.rollups import ExactSum
from analytics.energy.service import EnergyAnalytic, build_energy
from analytics.runtime import Checkpointed, Output
from analytics.state import SnapshotError, encode_snapshot
from tests.helpers import EXAMPLE_PLANT, example_plant
from twin.plant import Plant, parse_plant
from twin.readings import Reading

T0 = datetime(2026, 11, 25, 15, 40, tzinfo=UTC)  # 23:40 in Asia/Shanghai: the run crosses local midnight
COUNTER_MAX_KWH = 1_000_000.0  # the example meter's register (counter_max_kwh)


def telemetry(plant: Plant, hours: float = 4.0) -> list[list[Reading]]:
    """A 10 s meter counter that rolls over, machine state changes every 30 min, a gauged part a minute.

    8 kW running, 3 kW idle (above the 1.5 kW standby threshold: idle-waste alerts fire and
    clear). One part in seven is out of spec.
    """
    meter, _ = plant.asset("meter-cnc-01")
    cnc, _ = plant.asset("cnc-01")
    gauge, _ = plant.asset("gauge-cnc-01")
    kwh = COUNTER_MAX_KWH - 12.0  # rolls over after about an hour and a half
    batches = []
    for i in range(0, int(hours * 3600) + 1, 10):
        ts = T0 + timedelta(seconds=i)
        running = (i // 1800) % 2 == 0
        if i:
            kwh += (8.0 if ((i - 10) // 1800) % 2 == 0 else 3.0) * 10 / 3600
            if kwh >= COUNTER_MAX_KWH:
                kwh -= COUNTER_MAX_KWH + 0.1  # the register steps past 999 999.9 to 0 (one resolution step)
        batch = [Reading(meter, "energy_kwh", ts, round(kwh, 4))]
        if i % 60 == 0:
            batch.insert(0, Reading(cnc, "state", ts, "running" if running else "idle"))
            if running:
                part = ts + timedelta(seconds=5)
                batch += [Reading(gauge, "bore_diameter_mm", part, 20.03 if (i // 60) % 7 == 0 else 20.0),
                          Reading(gauge, "length_mm", part, 50.0)]
        batches.append(batch)
    # Several readings a message, as an edge agent batches them.
    return [[r for b in batches[k:k + 7] for r in b] for k in range(0, len(batches), 7)]


def final_points(out: Output) -> dict[str, str]:
    """What InfluxDB keeps: the last line written per measurement, tags and time."""
    points: dict[str, str] = {}
    for ln in out.lines:
        head, _, ts = ln.rsplit(" ", 2)
        points[f"{head} {ts}"] = ln
    return points


def feed(analytic: EnergyAnalytic, batches: list[list[Reading]]) -> Output:
    out = Output()
    for b in batches:
        out.extend(analytic.process([r for r in b if analytic.wants(r)]))
    return out


def rollover_batch(batches: list[list[Reading]]) -> int:
    """Index of the batch in which the counter wraps."""
    last = -1.0
    for i, b in enumerate(batches):
        for r in b:
            if r.signal == "energy_kwh":
                if float(r.value) < last:  # type: ignore[arg-type]
                    return i
                last = float(r.value)  # type: ignore[arg-type]
    raise AssertionError("no roll-over in the data")


@pytest.mark.parametrize("where", ["before-midnight", "at-the-roll-over", "after-the-roll-over"])
def test_totals_equal_an_uninterrupted_run_across_a_restart_mid_interval_and_a_roll_over(where: str) -> None:
    plant = example_plant()
    batches = telemetry(plant)
    roll = rollover_batch(batches)
    cut = {"before-midnight": 20, "at-the-roll-over": roll, "after-the-roll-over": roll + 40}[where]
    assert 20 < roll < roll + 40 < len(batches)
    whole = build_energy(plant)
    assert whole is not None
    expected = feed(whole, batches)
    assert {"energy:idle_waste", "energy:baseline_deviation"} & {e.key for e in expected.events}

    first = build_energy(plant)
    assert first is not None and isinstance(first, Checkpointed)
    got = feed(first, batches[:cut])
    data = first.snapshot()
    resumed = build_energy(plant)
    assert resumed is not None
    resumed.restore(data)
    got.extend(feed(resumed, batches[cut - 3:]))  # three batches redelivered

    assert final_points(got) == final_points(expected)  # bit for bit: energy, cost, CO2e, idle, parts, gap
    assert [e.encode() for e in got.events] == [e.encode() for e in expected.events]
    assert len(data) < 20_000


def fields(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in line.rsplit(" ", 2)[1].split(","))}


def test_the_restarted_integration_has_no_gap_and_counts_the_roll_over_once() -> None:
    plant = example_plant()
    batches = telemetry(plant)
    first = build_energy(plant)
    assert first is not None
    cut = rollover_batch(batches) + 1  # the restart right after the roll-over
    got = feed(first, batches[:cut])
    resumed = build_energy(plant)
    assert resumed is not None
    resumed.restore(first.snapshot())
    got.extend(feed(resumed, batches[cut - 3:]))
    counter = [float(r.value) for b in batches for r in b if r.signal == "energy_kwh"]  # type: ignore[arg-type]
    # One roll-over: (max − first) + one resolution step + last.
    metered_kwh = (COUNTER_MAX_KWH - counter[0]) + 0.1 + counter[-1]
    days = [fields(ln) for ln in final_points(got).values() if "period=day" in ln]
    hours = [fields(ln) for ln in final_points(got).values() if "period=hour" in ln]
    assert len(days) == 2 and len(hours) == 5  # 23:40–03:40 local: two days, five hours
    assert math.isclose(math.fsum(d["energy_kwh"] for d in days), metered_kwh, rel_tol=1e-12)
    assert math.isclose(math.fsum(h["energy_kwh"] for h in hours), metered_kwh, rel_tol=1e-12)
    assert all(h["gap"] == 0.0 for h in hours + days)  # the restart made no gap interval


def test_an_unreadable_or_incompatible_snapshot_is_refused_and_leaves_the_analytic_as_it_was() -> None:
    plant = example_plant()
    analytic = build_energy(plant)
    assert analytic is not None
    feed(analytic, telemetry(plant, hours=0.5))
    before = analytic.snapshot()
    for data in (b"\x00garbage", encode_snapshot("energy", 2, {}), encode_snapshot("spc", 1, {}),
                 encode_snapshot("energy", 1, {"meters": [{"meter": 1}]})):
        with pytest.raises(SnapshotError):
            analytic.restore(data)
        assert analytic.snapshot() == before


def test_a_meter_whose_configuration_changed_starts_afresh() -> None:
    plant = example_plant()
    batches = telemetry(plant, hours=1)
    first = build_energy(plant)
    assert first is not None
    feed(first, batches[:30])
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    raw["connections"]["opcua"]["cell-1"]["endpoint"] = "opc.tcp://127.0.0.1:1"
    raw["energy"]["meters"][0]["standby_threshold_kw"] = 2.5
    changed = build_energy(parse_plant(raw))
    assert changed is not None
    changed.restore(first.snapshot())
    out = feed(changed, batches[30:31])  # seven readings 10 s apart, idle at 3 kW
    hours = [fields(ln) for ln in out.lines if "period=hour" in ln]
    # The first reading after the restart starts a new integration; the hour holds only what came after it.
    assert len(hours) == 1 and math.isclose(hours[0]["energy_kwh"], 6 * 10 * 3.0 / 3600, rel_tol=1e-6)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=200))
def test_an_exact_sum_equals_fsum_of_every_value_added(values: list[float]) -> None:
    s = ExactSum()
    for v in values:
        s.add(v)
    assert s.value == math.fsum(values)
    assert ExactSum(s.partials).value == s.value  # what a checkpoint restores
    assert len(s.partials) <= 40
