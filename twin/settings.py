"""Runtime settings from the environment (`TWIN_*`): where the broker and database are.

Secrets live here, never in the plant file. `mqtt_url` and `influx_url` default to None
so that `twin demo` can tell "use these servers" from "start local ones".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_INFLUX_URL = "http://127.0.0.1:8086"


class Settings(BaseSettings):
    """Everything that differs between a laptop and a plant, read from TWIN_* variables."""

    # hide_input_in_errors: a refused TWIN_MQTT_URL may hold a password; errors name the field only.
    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore", hide_input_in_errors=True)

    plant_file: Path = Field(default=Path("examples/plant.yaml"))
    state_dir: Path = Field(default=Path(".twin"), description="queues, local server data")
    mqtt_url: str | None = None
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker's certificate")
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    mqtt_key_file: Path | None = Field(default=None, description="private key (PEM) of the client certificate")
    mqtt_tls_insecure: bool = Field(default=False, description="skip the broker's hostname check (never silent)")
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

    @model_validator(mode="after")
    def _tls_files(self) -> Settings:
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ValueError("TWIN_MQTT_CERT_FILE and TWIN_MQTT_KEY_FILE go together: set both or neither")
        for name in ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"TWIN_{name.upper()}: no such file {str(path)!r}")
        tls_set = self.mqtt_ca_file or self.mqtt_cert_file or self.mqtt_tls_insecure
        if tls_set and not (self.mqtt_url or DEFAULT_MQTT_URL).startswith("mqtts://"):
            # Otherwise the TLS settings would be ignored and the connection left in clear text.
            raise ValueError("TWIN_MQTT_CA_FILE / _CERT_FILE / _TLS_INSECURE are set but TWIN_MQTT_URL is not "
                             "mqtts:// (or not set): use an mqtts:// URL")
        return self

    @field_validator("influx_url")
    @classmethod
    def _influx(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("TWIN_INFLUX_URL must be an http:// or https:// URL")
        return v


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How to check the broker and prove who we are over TLS.

    Without `ca_file` the system's trusted CAs are used. The broker's certificate and host
    name are always verified unless `insecure` is set explicitly (TWIN_MQTT_TLS_INSECURE),
    and then the client logs a warning on every start: verification is never off silently.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Host, port and TLS options parsed from an mqtt:// or mqtts:// URL (and the TLS settings)."""

    host: str
    port: int
    tls: bool
    tls_options: TlsOptions | None = None


def redact_url(url: str) -> str:
    """The URL with any user:password@ part replaced, fit for a log line or an error message."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<unparseable URL>" if "@" in url else url
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{scheme}://{netloc}{slash}{path}"


def parse_mqtt_url(url: str, tls_options: TlsOptions | None = None) -> MqttEndpoint:
    """Parse mqtt://host:port (or mqtts://); ValueError says what is wrong, without credentials."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, an unbalanced [ ...
        raise ValueError(f"MQTT URL must look like mqtt://host:1883, got {redact_url(url)!r}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not hostname:
        raise ValueError(f"MQTT URL must look like mqtt://host:1883, got {redact_url(url)!r}")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(hostname, port or (8883 if tls else 1883), tls,
                        (tls_options or TlsOptions()) if tls else None)
