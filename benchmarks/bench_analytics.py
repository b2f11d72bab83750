"""Analytics throughput: readings per second through each streaming analytic's `process()`.

Run with `make bench`. The readings are a simulated history of the example plant
(PlantEngine, 1 s ticks, no I/O), the same readings for every analytic. The same-run
baseline is what ingest does with those readings anyway — serialising them to line
protocol with `fast_telemetry_lines` — so each analytic is reported as a ratio to it:
"SPC runs at 0.3x the speed of ingest's serialisation" travels between machines, absolute
numbers do not. Each analytic is timed on the readings it wants (its `wants()` filter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.energy.service import build_energy
from analytics.pdm.service import build_pdm
from analytics.runtime import Analytic
from analytics.spc.service import build_spc
from ingest.schema import fast_telemetry_lines
from simulators.engine import PlantEngine
from tests.helpers import example_plant
from twin.readings import Reading

HOURS = 3


def _history() -> list[list[Reading]]:
    """HOURS of the example plant as one batch of readings per simulated minute."""
    plant = example_plant()
    engine = PlantEngine(plant, seed=7, tick_s=1.0, start=datetime.now(UTC) - timedelta(hours=HOURS))
    gauges = {p for p, a in plant.assets() if a.type == "gauge"}  # they publish per part, not per tick
    batches: list[list[Reading]] = []
    batch: list[Reading] = []
    for tick in range(HOURS * 3600):
        frame = engine.step()
        for path, values in frame.values.items():
            if path in gauges:
                continue
            batch.extend(Reading(path, name, frame.ts, v) for name, v in values.items())
        for part in frame.parts:
            batch.extend(Reading(part.asset, name, part.ts, v) for name, v in part.values.items())
        if tick % 60 == 59:
            batches.append(batch)
            batch = []
    return batches


def _rate(run: Callable[[list[Reading]], object], batches: list[list[Reading]]) -> float:
    """Readings per second through `run`, one call per batch."""
    n = sum(len(b) for b in batches)
    t = time.perf_counter()
    for b in batches:
        run(b)
    return n / (time.perf_counter() - t)


def test_readings_per_second_through_each_analytic(tmp_path: Path) -> None:
    batches = _history()
    n = sum(len(b) for b in batches)
    assert n > HOURS * 3600 * 10, f"the simulated history has too few readings ({n})"
    baseline = _rate(lambda b: fast_telemetry_lines(b), batches)
    plant = example_plant()
    built: list[Analytic | None] = [build_spc(plant), build_pdm(plant, tmp_path / "models"), build_energy(plant)]
    print(f"\nanalytics on {HOURS} h of the example plant ({n:,} readings); baseline "
          f"fast_telemetry_lines {baseline:,.0f} readings/s")
    for analytic in built:
        assert analytic is not None
        wanted = [[r for r in b if analytic.wants(r)] for b in batches]
        used = sum(len(b) for b in wanted)
        t = time.perf_counter()
        lines = sum(len(analytic.process(b).lines) for b in wanted)
        rate = used / (time.perf_counter() - t)
        print(f"  {analytic.name:6s} {used:>7,} readings used, {lines:>6,} points: {rate:>10,.0f} readings/s "
              f"({rate / baseline:.2f}x the baseline)")
