"""`twin demo`: the whole twin in one process on a laptop.

Starts a local Mosquitto and InfluxDB under the state folder (unless TWIN_MQTT_URL /
TWIN_INFLUX_URL point at running servers), the plant simulator, the edge agent and
ingest, and shows a live status: per-signal rates, points written, queue depth, dead
letters. Stops on Ctrl-C / SIGTERM or after --duration seconds, then reports how many
points each configured signal has in InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rich.console import Console
from rich.live import Live
from rich.table import Table

from edge_agent.queue import DiskQueue
from simulators.plant_sim import PlantSimulator
from twin import services
from twin.errors import TwinError
from twin.influx import InfluxDB
from twin.localservers import LocalInfluxDB, LocalMosquitto, free_port
from twin.plant import Plant
from twin.settings import Settings
from twin.stats import Stats

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo left in the database: points per 'asset/signal'."""

    points: dict[str, int]
    missing: list[str]


async def run_demo(settings: Settings, plant: Plant, *, duration_s: float | None, console: Console) -> DemoResult:
    """Run everything until cancelled or duration_s has passed."""
    with contextlib.ExitStack() as stack:
        state = settings.state_dir / "demo"
        if settings.mqtt_url is None:
            broker = stack.enter_context(LocalMosquitto(state / "mosquitto", free_port()))
            settings = settings.model_copy(update={"mqtt_url": broker.url})
            console.print(f"[dim]started local Mosquitto on {broker.url}[/]")
        if settings.influx_url is None:
            influxd = stack.enter_context(LocalInfluxDB(state / "influxdb", free_port()))
            settings = settings.model_copy(update={"influx_url": influxd.url})
            console.print(f"[dim]started local InfluxDB on {influxd.url} (data in {state / 'influxdb'})[/]")
        for conn_name, conn in plant.connections.opcua.items():
            parts = urlsplit(conn.endpoint)
            if services.port_in_use(parts.hostname or "127.0.0.1", parts.port or 4840):
                raise TwinError(f"cannot start the OPC UA simulator for connection {conn_name!r}: "
                                f"{conn.endpoint} is already in use; change its endpoint in the plant file")
        async with services.influx_client(settings) as db:
            await db.ping()
            await services.ensure_database(db)
            await _run_services(settings, plant, db, duration_s, console)
            return await _summary(plant, db)


async def _run_services(settings: Settings, plant: Plant, db: InfluxDB, duration_s: float | None,
                        console: Console) -> None:
    edge = services.edge_agent(settings, plant)
    ingest = services.ingest_worker(settings, db)
    async with services.mqtt_client(settings, "twin-demo-devices") as devices, \
            PlantSimulator(plant, mqtt=devices, tick_s=1.0) as sim:
        console.print(f"[green]factory-twin demo running[/]: {len(list(plant.signals()))} signals, "
                      f"database {settings.influx_db!r} at {settings.influx_url}. Ctrl-C stops.")
        status = _Status(edge_stats=edge.stats, ingest_stats=ingest.stats, queue=lambda: edge.queue)
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            async with asyncio.timeout(duration_s):
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(edge.run(), name="edge")
                    tg.create_task(ingest.run(), name="ingest")
                    tg.create_task(sim.run(), name="simulator")
                    tg.create_task(status.show(console), name="status")
        except TimeoutError:
            console.print(f"[dim]--duration {duration_s:g} s reached; stopping[/]")
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

    def __init__(self, *, edge_stats: Stats, ingest_stats: Stats, queue: Callable[[], DiskQueue | None]) -> None:
        self._edge = edge_stats
        self._ingest = ingest_stats
        self._queue = queue
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
        )
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
