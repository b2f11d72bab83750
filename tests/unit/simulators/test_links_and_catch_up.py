"""Explicit plant links drive the coupling; `catch_up` runs fast through the past, then in real time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import yaml

from simulators.engine import EnergyMeterModel, GaugeModel, PlantEngine
from simulators.plant_sim import PlantSimulator
from tests.helpers import EXAMPLE_PLANT
from twin.mqtt import MqttClient
from twin.plant import parse_plant
from twin.settings import MqttEndpoint


def _renamed_plant() -> dict:  # type: ignore[type-arg]
    """The example plant with the meter and gauge renamed, so only the links name the machine."""
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    assets = raw["areas"]["machining"]["lines"]["line-1"]["assets"]
    assets["feeder-7"] = assets.pop("meter-cnc-01")
    assets["airgauge-a"] = assets.pop("gauge-cnc-01")
    raw["energy"]["meters"][0]["asset"] = "feeder-7"
    return raw  # type: ignore[no-any-return]


def test_meters_and_measures_links_couple_assets_without_naming_conventions() -> None:
    engine = PlantEngine(parse_plant(_renamed_plant()), seed=3, tick_s=1.0,
                         start=datetime(2026, 11, 23, tzinfo=UTC))
    meter, gauge = engine.models["feeder-7"], engine.models["airgauge-a"]
    assert isinstance(meter, EnergyMeterModel) and meter.metered == ["cnc-01"]
    assert isinstance(gauge, GaugeModel) and gauge.machine == "cnc-01"
    parts = [p for _ in range(600) for p in engine.step().parts]
    assert parts, "the gauge measured no part of the linked machine in 10 simulated minutes"


async def test_catch_up_runs_fast_until_the_wall_clock_then_in_real_time(mqtt_endpoint: MqttEndpoint) -> None:
    raw = _renamed_plant()
    raw["connections"]["opcua"] = {}
    for asset in raw["areas"]["machining"]["lines"]["line-1"]["assets"].values():
        asset["signals"] = {k: v for k, v in asset["signals"].items() if "mqtt" in v}
        for key in ("pdm", "meters", "measures"):
            asset.pop(key, None)
    raw["areas"]["machining"]["lines"]["line-1"]["assets"] = {
        k: v for k, v in raw["areas"]["machining"]["lines"]["line-1"]["assets"].items() if v["signals"]}
    plant = parse_plant(raw)
    async with MqttClient(endpoint=mqtt_endpoint, client_id="catch-up-devices") as devices:
        sim = PlantSimulator(plant, mqtt=devices, tick_s=0.1, speed=50,
                             start=datetime.now(UTC) - timedelta(seconds=3), catch_up=True)
        t0 = time.monotonic()
        await sim.run(ticks=40)  # 3 s of history (30 ticks) at 50x, then 10 ticks in real time
        elapsed = time.monotonic() - t0
    assert sim.speed == 1.0
    lag = (sim.engine.ts(sim.engine.t_s) - datetime.now(UTC)).total_seconds()
    assert abs(lag) < 0.5, f"simulated time {lag:+.2f} s from the wall clock after catching up"
    assert elapsed >= 0.9, f"40 ticks took {elapsed:.2f} s: the last 10 should have run in real time (~1 s)"
