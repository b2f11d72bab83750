"""Fixtures that start real servers on free loopback ports: Mosquitto, InfluxDB 1.x.

No mock broker or database anywhere: these are the Debian packages the project's setup
installs, started with temporary config and data folders (DESIGN.md §7).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.localservers import LocalInfluxDB, LocalMosquitto
from twin.influx import InfluxDB
from twin.settings import MqttEndpoint, parse_mqtt_url


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """A fresh Mosquitto broker for one test."""
    server = LocalMosquitto(tmp_path / "mosquitto", None)
    with server:
        yield server


@pytest.fixture
def mqtt_endpoint(mosquitto: LocalMosquitto) -> MqttEndpoint:
    """Where the test's broker listens."""
    return parse_mqtt_url(mosquitto.url)


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfluxDB]:
    """One InfluxDB 1.x server for the session; each test gets its own database."""
    server = LocalInfluxDB(tmp_path_factory.mktemp("influxdb"), None)
    with server:
        yield server


@pytest.fixture
async def influx(influxdb_server: LocalInfluxDB) -> AsyncIterator[InfluxDB]:
    """A client on a new, empty database of the session's InfluxDB."""
    async with InfluxDB(url=influxdb_server.url, database=f"test_{uuid.uuid4().hex[:12]}") as db:
        await db.create_database()
        yield db
