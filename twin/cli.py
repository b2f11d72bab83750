"""The `twin` command: one entry point for every service and tool.

    twin demo        everything in one process, on local servers it starts itself
    twin simulate    the simulated plant (OPC UA servers + MQTT devices)
    twin edge        the edge agent: OPC UA / MQTT devices → MQTT
    twin ingest      MQTT → InfluxDB
    twin plant check validate a plant file

Settings come from TWIN_* environment variables (see `twin --help`); the CLI prints
with rich, library code only logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from twin.errors import TwinError
from twin.plant import Plant, load_plant
from twin.settings import Settings

console = Console()
err_console = Console(stderr=True)

ENV_HELP = """\b
Settings (environment variables):
  TWIN_PLANT_FILE      plant file (default examples/plant.yaml)
  TWIN_MQTT_URL        broker, e.g. mqtt://127.0.0.1:1883
  TWIN_MQTT_USERNAME / TWIN_MQTT_PASSWORD
  TWIN_INFLUX_URL      InfluxDB, e.g. http://127.0.0.1:8086 (v1 API: /write, /query)
  TWIN_INFLUX_DB       database (default factory)
  TWIN_INFLUX_USERNAME / TWIN_INFLUX_PASSWORD, or TWIN_INFLUX_TOKEN (2.x/3.x)
  TWIN_STATE_DIR       queues and local server data (default .twin)
"""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid TWIN_* setting:\n{exc}") from None


def _plant(path: Path | None, settings: Settings) -> Plant:
    try:
        return load_plant(path or settings.plant_file)
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a service until it ends or Ctrl-C; TwinErrors become clean one-line errors."""
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        err_console.print("[dim]stopped[/]")
        return None
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None


plant_option = click.option("--plant", "plant_path", type=click.Path(path_type=Path, dir_okay=False),
                            help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")


@click.group(epilog=ENV_HELP)
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def cli(log_level: str) -> None:
    """factory-twin: a factory digital twin for quality monitoring.

    Collects machine and sensor data over OPC UA and MQTT, stores it in InfluxDB and
    turns it into machine health, energy and SPC results. Start with `twin demo`.
    """
    logging.basicConfig(level=log_level.upper(), format="%(message)s",
                        handlers=[RichHandler(console=err_console, show_path=False)])
    # Per-request HTTP logs drown everything else at INFO.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    # asyncua warns about unused security policies on every start; errors still show.
    logging.getLogger("asyncua").setLevel(max(logging.ERROR, logging.getLogger().level))


@cli.command()
@plant_option
@click.option("--duration", type=float, default=None, metavar="SECONDS", help="Stop after this many seconds.")
def demo(plant_path: Path | None, duration: float | None) -> None:
    """Run the whole twin locally: simulator, edge agent, ingest, Mosquitto, InfluxDB.

    Local Mosquitto and InfluxDB servers are started under $TWIN_STATE_DIR/demo unless
    TWIN_MQTT_URL / TWIN_INFLUX_URL point at running ones. Ctrl-C stops cleanly.
    """
    from twin.demo import run_demo

    settings = _settings()
    plant = _plant(plant_path, settings)
    result = _run(run_demo(settings, plant, duration_s=duration, console=console))
    if result is None:
        return
    table = Table(title=f"points in InfluxDB database {settings.influx_db!r}")
    table.add_column("asset / signal")
    table.add_column("points", justify="right")
    for key, n in result.points.items():
        table.add_row(key, str(n))
    console.print(table)
    if result.missing:
        raise click.ClickException(f"no points for: {', '.join(result.missing)}")


@cli.command()
@plant_option
@click.option("--tick", type=float, default=1.0, show_default=True, help="Seconds between samples.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
def simulate(plant_path: Path | None, tick: float, seed: int) -> None:
    """Run simulated hardware for a plant file: OPC UA servers and MQTT devices."""
    from simulators.plant_sim import PlantSimulator
    from twin import services

    settings = _settings()
    plant = _plant(plant_path, settings)

    async def main() -> None:
        async with services.mqtt_client(settings, "twin-simulator-devices") as devices, \
                PlantSimulator(plant, mqtt=devices, tick_s=tick, seed=seed) as sim:
            endpoints = ", ".join(c.endpoint for c in plant.connections.opcua.values()) or "none"
            console.print(f"simulating {len(list(plant.signals()))} signals; OPC UA: {endpoints}; "
                          f"MQTT devices on {services.mqtt_endpoint(settings)}")
            await sim.run()

    _run(main())


@cli.command()
@plant_option
@click.option("--agent-id", default="edge-1", show_default=True, help="Unique name of this agent.")
def edge(plant_path: Path | None, agent_id: str) -> None:
    """Run the edge agent: subscribe to OPC UA servers and MQTT devices, publish to the broker.

    Readings are queued on disk ($TWIN_STATE_DIR/AGENT.queue.sqlite) until the broker
    acknowledges them, so nothing is lost while the broker is away.
    """
    from twin import services

    settings = _settings()
    agent = services.edge_agent(settings, _plant(plant_path, settings), agent_id=agent_id)
    _run(agent.run())


@cli.command()
@click.option("--worker-id", default="ingest-1", show_default=True,
              help="Unique name of this worker; workers share the stream (MQTT shared subscription).")
def ingest(worker_id: str) -> None:
    """Run ingest: MQTT telemetry → InfluxDB, acknowledging only what the database accepted."""
    from twin import services

    settings = _settings()

    async def main() -> None:
        async with services.influx_client(settings) as db:
            await services.ensure_database(db)
            await services.ingest_worker(settings, db, worker_id=worker_id).run()

    _run(main())


@cli.group()
def plant() -> None:
    """Work with plant files."""


@plant.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), required=False)
def plant_check(path: Path | None) -> None:
    """Validate a plant file and list its assets and signals."""
    settings = _settings()
    model = _plant(path, settings)
    table = Table(title=f"{path or settings.plant_file}: site {model.site}")
    for col in ("asset", "type", "signal", "unit", "source"):
        table.add_column(col)
    for sig in model.signals():
        src = (f"opcua {sig.spec.opcua.connection} {sig.spec.opcua.node}" if sig.spec.opcua
               else f"mqtt {sig.spec.mqtt.topic} {sig.spec.mqtt.path}" if sig.spec.mqtt else "")
        table.add_row(f"{sig.asset.area}/{sig.asset.line}/{sig.asset.asset}", sig.asset_type, sig.name,
                      sig.spec.unit, src)
    console.print(table)


def main() -> None:
    """Console entry point."""
    cli(prog_name="twin")


if __name__ == "__main__":
    main()
