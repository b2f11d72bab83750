"""Build the edge agent and ingest workers from settings: shared by `twin edge|ingest` and `twin demo`."""

from __future__ import annotations

import socket
from pathlib import Path

from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest, IngestOptions
from twin.connect import mqtt_credentials, mqtt_endpoint
from twin.deadletter import DeadLetterStore
from twin.influx import InfluxDB
from twin.plant import Plant
from twin.settings import Settings


def edge_agent(settings: Settings, plant: Plant, *, deadletters: DeadLetterStore,
               agent_id: str = "edge-1") -> EdgeAgent:
    """An edge agent whose queue lives in the state folder."""
    options = EdgeOptions(agent_id=agent_id, queue_path=Path(settings.state_dir) / f"{agent_id}.queue.sqlite")
    return EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint(settings), **mqtt_credentials(settings),
                     deadletters=deadletters, options=options)


def ingest_worker(settings: Settings, db: InfluxDB, *, plant: Plant, deadletters: DeadLetterStore,
                  worker_id: str = "ingest-1") -> Ingest:
    """An ingest worker storing the plant's signals in `db`, keeping what it refuses in `deadletters`."""
    return Ingest(mqtt_endpoint=mqtt_endpoint(settings), influx=db, plant=plant, deadletters=deadletters,
                  **mqtt_credentials(settings), options=IngestOptions(worker_id=worker_id))


def port_in_use(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False
