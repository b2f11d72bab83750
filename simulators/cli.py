"""The `simulate` command: run simulated hardware for a plant file, optionally with a fault scenario.

    simulate --list
    simulate --scenario bearing-failure --speed 600 --duration 24h --labels labels.csv
    simulate --plant examples/plant.yaml --tick 0.5

Written as a standalone click command so `twin` can mount it (`cli.add_command(simulate)`).
MQTT devices connect to $TWIN_MQTT_URL; OPC UA servers listen at the plant's endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from simulators.scenario import Scenario, load_scenario, parse_duration_s, shipped_scenarios
from twin.errors import TwinError
from twin.plant import load_plant

console = Console()
log = logging.getLogger(__name__)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration_s(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter(f"must be more than 0 s, got {value!r}")
    return seconds


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # click's FloatRange lets nan through (every comparison with it is false), and inf when
    # there is no upper bound; neither can pace a clock.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


# The simulated clock stamps every reading; InfluxDB stores times from 1677-09-21 to 2262-04-11
# (int64 nanoseconds since 1970), so a start outside those years makes data nothing can keep.
_START_YEARS = (1678, 2261)


def _start(ctx: click.Context, param: click.Parameter, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not _START_YEARS[0] <= value.year <= _START_YEARS[1]:
        raise click.BadParameter(f"must be in the years {_START_YEARS[0]}..{_START_YEARS[1]} "
                                 f"(what InfluxDB can store), got {value.isoformat()}")
    return value if value.tzinfo is not None else value.astimezone()  # naive: local time


def _labels(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    # The labels are written when the run ends: find out now, not after hours of simulation.
    if value is None:
        return None
    folder = value.parent
    if not folder.is_dir():
        raise click.BadParameter(f"{value}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (value.exists() and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"{value}: not writable")
    return value


@click.command()
@click.option("--scenario", "scenario_name", metavar="NAME_OR_FILE",
              help="Shipped scenario name (see --list) or a scenario YAML file.")
@click.option("--list", "list_only", is_flag=True, help="List the shipped scenarios, one per line, and exit.")
@click.option("--plant", "plant_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Plant file (default: the scenario's plant, else $TWIN_PLANT_FILE or examples/plant.yaml).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, callback=_finite,
              help="Run N times faster than real time (timestamps stay consistent).")
@click.option("--duration", callback=_duration, metavar="SECONDS",
              help="Simulated time to run, e.g. 3600, 8h (default: the scenario's; forever without one).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--tick", type=click.FloatRange(min=0, min_open=True), default=None, callback=_finite,
              help="Seconds of plant time between samples (default: the scenario's, else 1).")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              default=None, callback=_start, help="Simulated start time (default: the scenario's, else now).")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path, dir_okay=False), callback=_labels,
              help="Write the injected faults (ground truth) to this CSV file.")
def simulate(scenario_name: str | None, list_only: bool, plant_path: Path | None, speed: float,
             duration: float | None, seed: int, tick: float | None, start: datetime | None,
             labels_path: Path | None) -> None:
    """Run simulated hardware: OPC UA machine servers and MQTT devices, with scheduled faults."""
    if list_only:
        for name, path in shipped_scenarios().items():
            try:
                click.echo(f"{name:22} {load_scenario(path).description}")
            except TwinError as exc:
                click.echo(f"{name:22} invalid: {' '.join(str(exc).split())}")
        return
    from simulators.plant_sim import PlantSimulator
    from twin.connect import mqtt_client
    from twin.settings import Settings

    try:
        settings = Settings()
        scenario: Scenario | None = load_scenario(scenario_name) if scenario_name else None
        if plant_path is not None:
            plant = load_plant(plant_path)
            if scenario is not None:
                from simulators.scenario import check_against_plant
                check_against_plant(scenario, plant)
        elif scenario is not None:
            plant = scenario.load_plant()
        else:
            plant = load_plant(settings.plant_file)
    except (TwinError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    tick_s = tick or (scenario.tick_s if scenario else 1.0)
    run_s = duration if duration is not None else (scenario.duration if scenario else None)

    async def main() -> None:
        has_mqtt = any(s.spec.source == "mqtt" for s in plant.signals())
        async with mqtt_client(settings, "twin-simulator-devices") if has_mqtt else _nothing() as devices, \
                PlantSimulator(plant, mqtt=devices, tick_s=tick_s, seed=seed, scenario=scenario, speed=speed,
                               start=start, labels_path=labels_path) as sim:
            endpoints = ", ".join(c.endpoint for c in plant.connections_of("opcua").values()) or "none"
            console.print(f"simulating {len(list(plant.signals()))} signals"
                          f"{f' with scenario {scenario.name!r}' if scenario else ''} at {speed:g}x from "
                          f"{sim.now.isoformat()}; OPC UA: {endpoints}", highlight=False)
            await sim.run(ticks=None if run_s is None else round(run_s / tick_s))
            console.print(f"simulated {sim.ticks * tick_s:.0f} s up to {sim.now.isoformat()}; "
                          f"{len(sim.engine.labels)} fault labels"
                          f"{f' written to {labels_path}' if labels_path else ''}", highlight=False)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("[dim]stopped[/]")
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # an OPC UA endpoint's port in use, the labels file gone: the OS says which
        raise click.ClickException(f"simulator: {exc}") from None


class _nothing:
    """An async context manager yielding None, for plants without MQTT devices."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    simulate()
