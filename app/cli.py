"""The `twin` command: one entry point for every service and tool (the composition root's front door).

    twin demo        everything in one process, on local servers it starts itself
    twin simulate    the simulated plant (OPC UA servers + MQTT devices), with fault scenarios
    twin edge        the edge agent: OPC UA / MQTT devices → MQTT
    twin ingest      MQTT → InfluxDB
    twin analytics   SPC, predictive maintenance and energy on the live stream
    twin plant check validate a plant file
    twin spc         control charts, capability, ARL (测)
    twin pdm         machine health, anomaly detection, RUL (机)
    twin energy      energy, cost and carbon reports (环)
    twin alerts      list / acknowledge / resolve alerts; run the alert manager and API
    twin dashboards  generate Grafana dashboards, push them to Grafana
    twin deadletters list and replay what the services refused
    twin opcua       browse an OPC UA server's address space (plant-file bindings), read a node

Settings come from TWIN_* environment variables (see `twin --help`); the CLI prints
with rich, library code only logs.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from twin.clirun import load_plant_file, load_settings, main_entry, run_service
from twin.connect import ensure_database, influx_client
from twin.deadletter import DeadLetterStore, store_path
from twin.plugins import registry

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


plant_option = click.option("--plant", "plant_path", type=click.Path(path_type=Path, dir_okay=False),
                            help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used (click's documented lazy-loading pattern).

    The analytics groups pull in SciPy, scikit-learn and Apprise; `twin edge` on a gateway
    should not pay for them, nor should `twin --help`.
    """

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # command name -> "module:attribute" (a click command or a zero-arg factory)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attr = self.lazy[cmd_name].partition(":")
        obj = getattr(importlib.import_module(module), attr)
        command = obj if isinstance(obj, click.Command) else obj()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"{self.lazy[cmd_name]} is not a click command")
        return command


LAZY_COMMANDS = {
    "simulate": "simulators.cli:simulate",
    "spc": "analytics.spc.cli:spc",
    "pdm": "analytics.pdm.cli:pdm",
    "energy": "app.cli:energy_group",
    "alerts": "api.cli:alerts",
    "dashboards": "dashboards.cli:dashboards",
    "deadletters": "app.deadletters:deadletters",
    "opcua": "edge_agent.sources.opcua.browse_cli:opcua",
    "certs": "edge_agent.sources.opcua.certs_cli:certs",
}


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, epilog=ENV_HELP)
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
@click.option("--backfill", type=click.FloatRange(min=0), default=180, show_default=True, metavar="MINUTES",
              help="Simulate this much history first (0: start in real time).")
@click.option("--speed", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Time acceleration while simulating the history.")
def demo(plant_path: Path | None, duration: float | None, backfill: float, speed: float) -> None:
    """Run the whole twin locally: simulator, edge agent, ingest, analytics, alerts and API.

    Local Mosquitto and InfluxDB servers are started under $TWIN_STATE_DIR/demo unless
    TWIN_MQTT_URL / TWIN_INFLUX_URL point at running ones. The simulated plant starts
    --backfill minutes in the past and runs --speed times faster until it reaches the
    wall clock, so control charts, health and energy have a history within minutes; from
    then on it runs in real time. Ctrl-C stops cleanly.
    """
    from app.demo import DemoOptions, run_demo

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)
    options = DemoOptions(duration_s=duration, backfill_s=backfill * 60, speed=speed)
    result = run_service(run_demo(settings, plant, options=options, console=console))
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
@click.option("--agent-id", default="edge-1", show_default=True, help="Unique name of this agent.")
def edge(plant_path: Path | None, agent_id: str) -> None:
    """Run the edge agent: subscribe to OPC UA servers and MQTT devices, publish to the broker.

    Readings are queued on disk ($TWIN_STATE_DIR/AGENT.queue.sqlite) until the broker
    acknowledges them, so nothing is lost while the broker is away.
    """
    from app import services

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)

    async def main() -> None:
        with DeadLetterStore(store_path(settings.state_dir)) as dead:
            await services.edge_agent(settings, plant, deadletters=dead, agent_id=agent_id).run()

    run_service(main())


@cli.command()
@plant_option
@click.option("--worker-id", default="ingest-1", show_default=True,
              help="Unique name of this worker; workers share the stream (MQTT shared subscription).")
def ingest(plant_path: Path | None, worker_id: str) -> None:
    """Run ingest: MQTT telemetry → InfluxDB, acknowledging only what the database accepted.

    Only assets and signals of the plant file are stored; anything else is kept as a dead
    letter ($TWIN_STATE_DIR/deadletters.sqlite, `twin deadletters list`).
    """
    from app import services

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)

    async def main() -> None:
        with DeadLetterStore(store_path(settings.state_dir)) as dead:
            async with influx_client(settings) as db:
                await ensure_database(db)
                await services.ingest_worker(settings, db, plant=plant, deadletters=dead,
                                             worker_id=worker_id).run()

    run_service(main())


@cli.command("analytics")
@plant_option
@click.option("--instance", default="1", show_default=True,
              help="Instance name; instances share the telemetry stream (MQTT shared subscriptions).")
def analytics_cmd(plant_path: Path | None, instance: str) -> None:
    """Run every analytic the plant file configures: SPC, predictive maintenance, energy.

    Reads telemetry from the broker, writes chart points, health and energy rollups to
    InfluxDB and publishes alert events; `twin alerts serve` turns those into alerts.
    """
    from analytics.catalog import build_analytics
    from analytics.runtime import run_analytics

    settings = load_settings()
    model = load_plant_file(plant_path, settings)
    built = build_analytics(model, settings)
    if not built:
        raise click.ClickException("the plant file configures no analytics (spc:, pdm: or energy: sections)")

    console.print(f"analytics running: {', '.join(a.name for a in built)}")
    run_service(run_analytics(settings, model, built, instance=instance))


@cli.group()
def plant() -> None:
    """Work with plant files."""


@plant.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), required=False)
def plant_check(path: Path | None) -> None:
    """Validate a plant file and list its assets and signals."""
    settings = load_settings()
    model = load_plant_file(path, settings)
    table = Table(title=f"{path or settings.plant_file}: site {model.site}")
    for col in ("asset", "type", "signal", "unit", "source"):
        table.add_column(col)
    sources = registry().sources
    for sig in model.signals():
        src = sources[sig.spec.source].describe(sig.spec.binding)
        table.add_row(f"{sig.asset.area}/{sig.asset.line}/{sig.asset.asset}", sig.asset_type, sig.name,
                      sig.spec.unit, src)
    console.print(table)


def energy_group() -> click.Group:
    """`twin energy`, reading meter data from InfluxDB and meters from the plant file unless told otherwise."""
    from analytics.energy.cli import build_energy_group
    from analytics.energy.influx_source import plant_energy_config, plant_source

    return build_energy_group(source_factory=plant_source, config_factory=plant_energy_config)


def main() -> None:
    """Console entry point: every error is one line (twin/clirun.py main_entry), never a traceback."""
    main_entry(cli, prog_name="twin")


if __name__ == "__main__":
    main()
