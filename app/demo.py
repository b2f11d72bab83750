"""`twin demo`: the whole twin in one process on a laptop.

Starts a local Mosquitto and InfluxDB under the state folder (unless TWIN_MQTT_URL /
TWIN_INFLUX_URL point at running servers), the plant simulator, the edge agent, ingest,
every analytic the plant file configures (SPC, predictive maintenance, energy), the alert
manager and the HTTP API, and shows a live status: per-signal rates, points written,
queue depth, dead letters, analytics output and open alerts. Stops on Ctrl-C / SIGTERM
or after --duration seconds, then reports how many points each configured signal has in
InfluxDB.

The simulator starts `backfill_s` in the past and runs `speed` times faster than real time
until it reaches the wall clock, then in real time: control limits, health baselines and
hourly energy have a history within minutes of starting, and every timestamp is real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr
from rich.console import Console
from rich.live import Live
from rich.table import Table

from analytics.alerts.plugin import alerts_config
from analytics.runtime import AnalyticRunner, analytic_runner
from api.auth import ApiSettings, Role, load_api_settings
from app import services
from app.localservers import ROLE_ACL, BrokerAccount, LocalInfluxDB, LocalMosquitto, free_port, write_secret
from edge_agent import EdgeAgent
from edge_agent.queue import DiskQueue
from ingest import Ingest
from simulators.plant_sim import PlantSimulator
from twin.connect import ensure_database, influx_client, mqtt_client
from twin.deadletter import DeadLetterStore, store_path
from twin.errors import TwinError
from twin.influx import InfluxDB
from twin.plant import Plant
from twin.settings import Settings
from twin.stats import Stats

if TYPE_CHECKING:
    from analytics.alerts.service import AlertService

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo left in the database: points per 'asset/signal'."""

    points: dict[str, int]
    missing: list[str]


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs: how long, how much history to simulate first, and how fast."""

    duration_s: float | None = None
    backfill_s: float = 0.0
    speed: float = 1.0


async def run_demo(settings: Settings, plant: Plant, *, options: DemoOptions, console: Console) -> DemoResult:
    """Run everything until cancelled or options.duration_s has passed."""
    with contextlib.ExitStack() as stack:
        state = settings.state_dir / "demo"
        roles: dict[str, Settings] = {}
        if settings.mqtt_url is None:
            accounts = _broker_accounts(state)
            broker = stack.enter_context(LocalMosquitto(state / "mosquitto", free_port(), accounts=accounts))
            settings = settings.model_copy(update={"mqtt_url": broker.url})
            # Each service connects with its own role's account (app.localservers.ROLE_ACL).
            roles = {role: settings.model_copy(update={"mqtt_username": account.username,
                                                       "mqtt_password": SecretStr(account.password)})
                     for role, account in accounts.items()}
            console.print(f"[dim]started local Mosquitto on {broker.url} (accounts per role, anonymous refused; "
                          f"passwords in {state / 'mqtt-accounts'})[/]")
        if settings.influx_url is None:
            influxd = stack.enter_context(LocalInfluxDB(state / "influxdb", free_port()))
            settings = settings.model_copy(update={"influx_url": influxd.url})
            console.print(f"[dim]started local InfluxDB on {influxd.url} (data in {state / 'influxdb'})[/]")
        for conn_name, conn in plant.connections_of("opcua").items():
            parts = urlsplit(conn.endpoint)
            if services.port_in_use(parts.hostname or "127.0.0.1", parts.port or 4840):
                raise TwinError(f"cannot start the OPC UA simulator for connection {conn_name!r}: "
                                f"{conn.endpoint} is already in use; change its endpoint in the plant file")
        api = _api_settings(state)
        if services.port_in_use(api.host, api.port):
            raise TwinError(f"cannot start the API on {api.host}:{api.port}: the port is in use; "
                            f"set TWIN_API_PORT to a free port")
        async with influx_client(settings) as db:
            await db.ping()
            await ensure_database(db)
            await _run_services(settings, plant, db, api, options, console, roles)
            return await _summary(plant, db)


def _broker_accounts(state: Path) -> dict[str, BrokerAccount]:
    """One demo broker account per role; passwords generated once, kept 0600 in the state folder."""
    path = state / "mqtt-accounts"
    lines = path.read_text().splitlines() if path.exists() else []
    passwords = dict(line.split(":", 1) for line in lines if ":" in line)
    if set(passwords) != set(ROLE_ACL):
        passwords = {role: secrets.token_urlsafe(18) for role in ROLE_ACL}
        write_secret(path, "".join(f"{role}:{pw}\n" for role, pw in passwords.items()))
    path.chmod(0o600)
    return {role: BrokerAccount(f"demo-{role}", pw, role) for role, pw in passwords.items()}


def _api_settings(state: Path) -> ApiSettings:
    """TWIN_API_* settings; without TWIN_API_TOKENS, demo tokens kept in the state folder."""
    api = load_api_settings()
    if api.parsed_tokens():
        return api
    path = state / "api-tokens"
    if not path.exists():
        # 0600 from creation: write-then-chmod would leave the tokens readable for a moment.
        write_secret(path, ",".join(f"demo-{role}:{role}:{secrets.token_urlsafe(18)}"
                                    for role in ("viewer", "maintainer", "admin")))
    return api.model_copy(update={"tokens": SecretStr(path.read_text().strip())})


async def _run_services(settings: Settings, plant: Plant, db: InfluxDB, api: ApiSettings, options: DemoOptions,
                        console: Console, roles: dict[str, Settings]) -> None:
    from analytics.catalog import build_analytics
    from api.cli import build_service

    def role(name: str) -> Settings:
        """The settings a service of this role connects with (its own broker account, if the demo made them)."""
        return roles.get(name, settings)

    dead = DeadLetterStore(store_path(settings.state_dir))
    edge = services.edge_agent(role("edge"), plant, deadletters=dead)
    ingest = services.ingest_worker(role("ingest"), db, plant=plant, deadletters=dead)
    alerts = build_service(alerts_config(plant), role("alerts"), api,
                           db_path=settings.state_dir / "demo" / "alerts.db", influx=db, plant=plant, deadletters=dead)
    runners = [analytic_runner(role("analytics"), plant, a, db, deadletters=dead)
               for a in build_analytics(plant, settings)]
    with dead:
        await _run(settings, plant, api, options, console, edge, ingest, alerts, runners, device=role("device"))


async def _run(settings: Settings, plant: Plant, api: ApiSettings, options: DemoOptions, console: Console,
               edge: EdgeAgent, ingest: Ingest, alerts: AlertService, runners: list[AnalyticRunner], *,
               device: Settings) -> None:
    start = datetime.now(UTC) - timedelta(seconds=options.backfill_s) if options.backfill_s > 0 else None
    speed = options.speed if start is not None else 1.0
    async with mqtt_client(device, "twin-demo-devices") as devices, \
            PlantSimulator(plant, mqtt=devices, tick_s=1.0, speed=speed, start=start, catch_up=True) as sim:
        console.print(f"[green]factory-twin demo running[/]: {len(list(plant.signals()))} signals, "
                      f"database {settings.influx_db!r} at {settings.influx_url}. Ctrl-C stops.")
        console.print(f"analytics: {', '.join(r.analytic.name for r in runners) or 'none configured'}; "
                      f"API http://{api.host}:{api.port}/docs")
        maintainer = next((t for t in api.parsed_tokens() if t.role is Role.MAINTAINER), None)
        if maintainer is not None and not load_api_settings().parsed_tokens():
            console.print(f"[dim]demo API token (maintainer): export TWIN_API_URL=http://{api.host}:{api.port} "
                          f"TWIN_API_TOKEN={maintainer.token}[/]")
        if start is not None:
            console.print(f"[dim]simulating the last {options.backfill_s / 60:g} min at {speed:g}x, "
                          f"then in real time[/]")
        status = _Status(edge_stats=edge.stats, ingest_stats=ingest.stats, queue=lambda: edge.queue,
                         runners=runners, alerts=alerts, catching_up=lambda: sim.speed != 1.0)
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            async with asyncio.timeout(options.duration_s):
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(alerts.run(), name="alerts")
                    for runner in runners:
                        tg.create_task(runner.run(), name=f"analytics-{runner.analytic.name}")
                    tg.create_task(edge.run(), name="edge")
                    tg.create_task(ingest.run(), name="ingest")
                    tg.create_task(sim.run(), name="simulator")
                    tg.create_task(status.show(console), name="status")
        except TimeoutError:
            console.print(f"[dim]--duration {options.duration_s:g} s reached; stopping[/]")
        finally:
            loop.remove_signal_handler(signal.SIGTERM)


async def _summary(plant: Plant, db: InfluxDB) -> DemoResult:
    # One InfluxQL query over the whole run: points per asset and signal.
    series = await db.query('SELECT count("quality") FROM "telemetry" GROUP BY "asset", "signal"')
    points = {f"{s.tags['asset']}/{s.tags['signal']}": int(s.values[0][1]) for s in series}
    wanted = [f"{sig.asset.asset}/{sig.name}" for sig in plant.signals()]
    return DemoResult(points={k: points.get(k, 0) for k in wanted}, missing=[k for k in wanted if not points.get(k)])


class _Status:
    """The live status table, refreshed every second."""

    def __init__(self, *, edge_stats: Stats, ingest_stats: Stats, queue: Callable[[], DiskQueue | None],
                 runners: list[AnalyticRunner], alerts: AlertService, catching_up: Callable[[], bool]) -> None:
        self._catching_up = catching_up
        self._edge = edge_stats
        self._ingest = ingest_stats
        self._queue = queue
        self._runners = runners
        self._alerts = alerts
        self._last: Counter[str] = Counter()
        self._last_t = time.monotonic()

    def table(self) -> Table:
        edge, ingest = self._edge, self._ingest
        now = time.monotonic()
        dt = max(1e-6, now - self._last_t)
        signals = Counter(ingest.signals)
        table = Table(title="factory-twin demo", expand=False)
        table.add_column("asset / signal")
        table.add_column("rate /s", justify="right")
        table.add_column("points", justify="right")
        for key in sorted(set(edge.signals) | set(signals)):
            rate = (signals[key] - self._last[key]) / dt
            table.add_row(key.split("/", 3)[-1], f"{rate:.1f}", str(signals[key]))
        self._last, self._last_t = signals, now
        queue = self._queue()
        dead = edge.counters["deadletters"] + ingest.counters["deadletters"]
        table.caption = (
            f"points written {ingest.counters['points']} · "
            f"queue depth {queue.depth if queue else 0} · dead letters {dead} · "
            f"lag {ingest.gauges.get('lag_s', 0.0):.2f} s"
            + (" (simulating history)" if self._catching_up() else "")
        )
        for runner in self._runners:
            c = runner.stats.counters
            table.caption += f"\n{runner.analytic.name}: {c['points']} points, {c['events']} alert events"
        manager = self._alerts.manager
        open_alerts = manager.open_alerts if manager is not None else []
        table.caption += f"\nopen alerts {len(open_alerts)}"
        for a in sorted(open_alerts, key=lambda a: a.first_seen)[-3:]:
            table.caption += f"\n  [{a.severity.value}] {a.asset.asset}: {a.message}"
        return table

    async def show(self, console: Console) -> None:
        if console.is_terminal:
            with Live(self.table(), console=console, refresh_per_second=2, transient=False) as live:
                while True:
                    await asyncio.sleep(1)
                    live.update(self.table())
        else:
            # Not a terminal (CI, a pipe): one summary line every 5 s instead of redrawing.
            while True:
                await asyncio.sleep(5)
                console.print(self.table().caption)
