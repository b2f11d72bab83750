"""Build each service from settings: shared by the `twin` subcommands and `twin demo`."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Sequence
from pathlib import Path

from analytics.runtime import Analytic, AnalyticRunner
from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest, IngestOptions
from twin.influx import InfluxDB, InfluxError
from twin.mqtt import MqttClient
from twin.plant import Plant
from twin.settings import DEFAULT_INFLUX_URL, DEFAULT_MQTT_URL, MqttEndpoint, Settings, parse_mqtt_url

log = logging.getLogger(__name__)


def mqtt_endpoint(settings: Settings) -> MqttEndpoint:
    """The broker from TWIN_MQTT_URL, or the local default."""
    return parse_mqtt_url(settings.mqtt_url or DEFAULT_MQTT_URL)


def _secret(value: object) -> str | None:
    return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]


def mqtt_client(settings: Settings, client_id: str) -> MqttClient:
    """A plain MQTT client with the configured credentials."""
    return MqttClient(endpoint=mqtt_endpoint(settings), client_id=client_id,
                      username=settings.mqtt_username, password=_secret(settings.mqtt_password))


def influx_client(settings: Settings) -> InfluxDB:
    """An InfluxDB client for TWIN_INFLUX_URL / TWIN_INFLUX_DB with the configured credentials."""
    return InfluxDB(url=settings.influx_url or DEFAULT_INFLUX_URL, database=settings.influx_db,
                    username=settings.influx_username, password=_secret(settings.influx_password),
                    token=_secret(settings.influx_token))


async def ensure_database(db: InfluxDB) -> None:
    """Create the database on InfluxDB 1.x; on 2.x/3.x the deployment creates bucket and DBRP."""
    try:
        await db.create_database()
    except InfluxError as exc:
        log.warning("could not create database %r (%s); assuming it exists (InfluxDB 2.x/3.x: "
                    "create the bucket and its DBRP mapping)", db.database, exc)


def edge_agent(settings: Settings, plant: Plant, *, agent_id: str = "edge-1") -> EdgeAgent:
    """An edge agent whose queue lives in the state folder."""
    options = EdgeOptions(agent_id=agent_id, queue_path=Path(settings.state_dir) / f"{agent_id}.queue.sqlite")
    return EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint(settings), mqtt_username=settings.mqtt_username,
                     mqtt_password=_secret(settings.mqtt_password), options=options)


def ingest_worker(settings: Settings, db: InfluxDB, *, worker_id: str = "ingest-1") -> Ingest:
    """An ingest worker writing to `db`."""
    return Ingest(mqtt_endpoint=mqtt_endpoint(settings), influx=db, mqtt_username=settings.mqtt_username,
                  mqtt_password=_secret(settings.mqtt_password), options=IngestOptions(worker_id=worker_id))


def analytic_runner(settings: Settings, analytic: Analytic, db: InfluxDB, *, instance: str = "1") -> AnalyticRunner:
    """A runner for one streaming analytic (SPC, PdM, energy) writing to `db`."""
    return AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint(settings), influx=db,
                          mqtt_username=settings.mqtt_username, mqtt_password=_secret(settings.mqtt_password),
                          instance=instance)


async def run_analytics(settings: Settings, analytics: Sequence[Analytic], *, instance: str = "1") -> None:
    """Run analytics on the live stream until cancelled or SIGTERM (what `twin analytics` and `twin X run` do)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        async with influx_client(settings) as db:
            await ensure_database(db)
            async with asyncio.TaskGroup() as tg:
                for analytic in analytics:
                    tg.create_task(analytic_runner(settings, analytic, db, instance=instance).run(),
                                   name=f"analytics-{analytic.name}")
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def port_in_use(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False
