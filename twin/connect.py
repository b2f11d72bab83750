"""Clients for the configured servers: the broker and InfluxDB from the TWIN_* settings.

Every service and command that talks to the broker or the database builds its client
here, so credentials and defaults are read in one place.
"""

from __future__ import annotations

import logging
from typing import TypedDict

from pydantic import SecretStr

from twin.influx import InfluxDB, InfluxError
from twin.mqtt import MqttClient
from twin.settings import DEFAULT_INFLUX_URL, DEFAULT_MQTT_URL, MqttEndpoint, Settings, TlsOptions, parse_mqtt_url

log = logging.getLogger(__name__)


def secret(value: SecretStr | None) -> str | None:
    """The plain text of an optional secret setting."""
    return value.get_secret_value() if value is not None else None


def tls_options(settings: Settings) -> TlsOptions:
    """TLS options from TWIN_MQTT_CA_FILE / _CERT_FILE / _KEY_FILE / _TLS_INSECURE."""
    return TlsOptions(ca_file=settings.mqtt_ca_file, cert_file=settings.mqtt_cert_file,
                      key_file=settings.mqtt_key_file, insecure=settings.mqtt_tls_insecure)


def mqtt_endpoint(settings: Settings) -> MqttEndpoint:
    """The broker from TWIN_MQTT_URL (or the local default), carrying the TLS options for mqtts://.

    TLS travels inside the endpoint, which every service already takes, so no service
    constructor changes to get it.
    """
    return parse_mqtt_url(settings.mqtt_url or DEFAULT_MQTT_URL, tls_options(settings))


class MqttCredentials(TypedDict):
    """The `mqtt_username` / `mqtt_password` keyword arguments every service takes."""

    mqtt_username: str | None
    mqtt_password: str | None


def mqtt_credentials(settings: Settings) -> MqttCredentials:
    """The configured broker credentials, as keyword arguments for a service."""
    return MqttCredentials(mqtt_username=settings.mqtt_username, mqtt_password=secret(settings.mqtt_password))


def mqtt_client(settings: Settings, client_id: str) -> MqttClient:
    """A plain MQTT client with the configured credentials."""
    return MqttClient(endpoint=mqtt_endpoint(settings), client_id=client_id,
                      username=settings.mqtt_username, password=secret(settings.mqtt_password))


def influx_client(settings: Settings) -> InfluxDB:
    """An InfluxDB client for TWIN_INFLUX_URL / TWIN_INFLUX_DB with the configured credentials."""
    return InfluxDB(url=settings.influx_url or DEFAULT_INFLUX_URL, database=settings.influx_db,
                    username=settings.influx_username, password=secret(settings.influx_password),
                    token=secret(settings.influx_token))


async def ensure_database(db: InfluxDB) -> None:
    """Create the database on InfluxDB 1.x; on 2.x/3.x the deployment creates bucket and DBRP."""
    try:
        await db.create_database()
    except InfluxError as exc:
        log.warning("could not create database %r (%s); assuming it exists (InfluxDB 2.x/3.x: "
                    "create the bucket and its DBRP mapping)", db.database, exc)
