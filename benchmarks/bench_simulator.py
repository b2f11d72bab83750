"""Simulator scale: 100 CNC machines × 20 signals on 4 OPC UA servers in one process, at 1 Hz.

Run with `.venv/bin/python -m pytest benchmarks/bench_simulator.py -s` (or `make bench`).
The cost is OPC UA `write_attribute_value` (one per signal per tick); the engine's
physics is measured separately so the two can be compared. Prints the figures; fails if a
1 s tick takes longer than 1 s, i.e. if 1 Hz is out of reach on this machine.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.localservers import free_port
from simulators.engine import PlantEngine
from simulators.models import CncModel
from simulators.plant_sim import PlantSimulator
from twin.plant import Plant, parse_plant

MACHINES, SERVERS, TICKS = 100, 4, 20
EXTRA = [f"axis_{a}_load" for a in "xyzabc"]  # 14 modelled + 6 random-walk signals = 20


def big_plant() -> Plant:
    """A plant of MACHINES CNCs with 20 OPC UA signals each, spread over SERVERS servers."""
    signals = [*CncModel.SIGNALS, *EXTRA]
    assets = {}
    for m in range(MACHINES):
        name, conn = f"cnc-{m:03d}", f"cell-{m % SERVERS}"
        assets[name] = {"type": "cnc", "signals": {
            s: {"opcua": {"connection": conn, "node": f"ns=2;s={name}.{s}"}} for s in signals}}
    return parse_plant({
        "version": 1, "site": "bench",
        "connections": {"opcua": {f"cell-{i}": {"endpoint": f"opc.tcp://127.0.0.1:{free_port()}"}
                                  for i in range(SERVERS)}},
        "areas": {"hall": {"lines": {"line": {"assets": assets}}}}})


async def test_hundred_machines_twenty_signals_at_one_hertz() -> None:
    plant = big_plant()
    n_signals = len(list(plant.signals()))
    assert n_signals == MACHINES * 20
    engine = PlantEngine(plant, seed=1, tick_s=1.0, start=datetime(2026, 1, 1, tzinfo=UTC))
    t = time.perf_counter()
    for _ in range(TICKS):
        engine.step()
    engine_s = (time.perf_counter() - t) / TICKS

    t = time.perf_counter()
    async with PlantSimulator(plant, mqtt=None, tick_s=1.0, speed=1000) as sim:
        startup_s = time.perf_counter() - t
        t = time.perf_counter()
        await sim.run(ticks=TICKS)
        tick_s = (time.perf_counter() - t) / TICKS
    print(f"\n{MACHINES} machines × 20 signals = {n_signals} signals on {SERVERS} OPC UA servers")
    print(f"  address space build + start: {startup_s:.1f} s")
    print(f"  engine step only:            {engine_s * 1000:.1f} ms per tick")
    print(f"  full tick (engine + writes): {tick_s * 1000:.0f} ms per tick "
          f"= {n_signals / tick_s:,.0f} OPC UA writes/s; 1 Hz uses {tick_s:.0%} of one core")
    assert tick_s < 1.0, "cannot keep 1 Hz for 100 machines × 20 signals"
