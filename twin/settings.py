"""Runtime settings from the environment (`TWIN_*`): where the broker and database are.

Secrets live here, never in the plant file. `mqtt_url` and `influx_url` default to None
so that `twin demo` can tell "use these servers" from "start local ones".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_INFLUX_URL = "http://127.0.0.1:8086"


class Settings(BaseSettings):
    """Everything that differs between a laptop and a plant, read from TWIN_* variables."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    plant_file: Path = Field(default=Path("examples/plant.yaml"))
    state_dir: Path = Field(default=Path(".twin"), description="queues, local server data")
    mqtt_url: str | None = None
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    influx_url: str | None = None
    influx_db: str = "factory"
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_token: SecretStr | None = Field(default=None, description="InfluxDB 2.x/3.x token")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, v: str | None) -> str | None:
        if v is not None:
            parse_mqtt_url(v)
        return v

    @field_validator("influx_url")
    @classmethod
    def _influx(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("TWIN_INFLUX_URL must be an http:// or https:// URL")
        return v


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Host, port and TLS flag parsed from an mqtt:// or mqtts:// URL."""

    host: str
    port: int
    tls: bool


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse mqtt://host:port (or mqtts://); ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"MQTT URL must look like mqtt://host:1883, got {url!r}")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(parts.hostname, parts.port or (8883 if tls else 1883), tls)
