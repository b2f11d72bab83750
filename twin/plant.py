"""The plant model: one YAML file describing the plant as an ISA-95 hierarchy.

site → areas → lines → assets → signals, each signal bound to its source (an OPC UA
node on a named connection, or an MQTT topic plus a JSONPath into its JSON payload).
Validation is strict (`extra="forbid"`), and `load_plant` turns pydantic's errors into
messages that name the file, the path inside it and what is wrong, e.g.

    plant.yaml: areas.machining.lines.line-1.assets.cnc-01.signals.speed: unknown key 'unti'

Runtime settings (URLs, credentials) are not here: they come from the environment
(`twin.settings`), so the plant file never holds a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JsonPathParserError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from analytics.alerts.config import AlertsConfig
from analytics.energy.config import EnergyConfig
from analytics.pdm.config import PdmAssetConfig
from analytics.spc.config import CharacteristicSpc
from twin.errors import ConfigError
from twin.topics import AssetPath

# Identifiers become MQTT topic levels and InfluxDB tag values: no wildcards (+ #),
# no separators (/), no spaces, and not starting with '_' (reserved for twin/v1/_sys).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaConnection(_Model):
    """An OPC UA server the edge agent connects to."""

    endpoint: str = Field(description="e.g. opc.tcp://192.168.1.10:4840")
    publishing_interval_ms: float = Field(default=100, gt=0)
    security: Literal["none"] = "none"

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, v: str) -> str:
        if not v.startswith("opc.tcp://"):
            raise ValueError("must start with opc.tcp://")
        return v


class Connections(_Model):
    """Named protocol connections that signals bind to."""

    opcua: dict[Ident, OpcUaConnection] = Field(default_factory=dict)


class OpcUaBinding(_Model):
    """A signal read from an OPC UA node through a subscription."""

    connection: Ident
    node: str = Field(description="node id, e.g. ns=2;s=cnc-01.spindle_speed")


class MqttBinding(_Model):
    """A signal taken from a JSON payload that a device publishes on an MQTT topic."""

    topic: str
    path: str = Field(description="JSONPath of the value in the payload, e.g. $.power_kw")
    timestamp_path: str | None = Field(
        default=None, description="JSONPath of the source timestamp; receive time when absent"
    )

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, v: str) -> str:
        if not v or "+" in v or "#" in v:
            raise ValueError("must be a concrete topic without wildcards (+ or #)")
        return v

    @field_validator("path", "timestamp_path")
    @classmethod
    def _jsonpath(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_jsonpath(v)
            except (JsonPathParserError, Exception) as exc:
                raise ValueError(f"not a valid JSONPath: {exc}") from None
        return v


class Signal(_Model):
    """One measured quantity of an asset."""

    unit: str = Field(default="", description="engineering unit, e.g. rpm, degC, kW")
    description: str = ""
    deadband: float = Field(default=0.0, ge=0, description="absolute deadband; 0 keeps every change")
    opcua: OpcUaBinding | None = None
    mqtt: MqttBinding | None = None
    spc: CharacteristicSpc | None = Field(
        default=None, description="chart this signal as a quality characteristic (analytics/spc/config.py)")

    @model_validator(mode="after")
    def _one_binding(self) -> Signal:
        if (self.opcua is None) == (self.mqtt is None):
            raise ValueError("needs exactly one source binding: 'opcua' or 'mqtt'")
        return self


class Asset(_Model):
    """A machine, meter or sensor: the leaf of the hierarchy."""

    type: Ident = Field(default="generic", description="equipment class, e.g. cnc, energy_meter")
    description: str = ""
    meters: Ident | None = Field(default=None, description="for a meter: the asset whose energy it measures")
    measures: Ident | None = Field(default=None, description="for a gauge: the machine whose parts it measures")
    product_signal: Ident | None = Field(
        default=None, description="for a gauge: the signal naming the product or recipe (per-product SPC limits)")
    pdm: PdmAssetConfig | None = Field(default=None, description="predictive maintenance (analytics/pdm/config.py)")
    signals: dict[Ident, Signal]


class Line(_Model):
    """A production line (ISA-95 work centre)."""

    description: str = ""
    assets: dict[Ident, Asset]


class Area(_Model):
    """A plant area."""

    description: str = ""
    lines: dict[Ident, Line]


class Plant(_Model):
    """The whole plant file."""

    version: Literal[1]
    site: Ident
    name: str = ""
    timezone: str = "Asia/Shanghai"
    connections: Connections = Field(default_factory=Connections)
    areas: dict[Ident, Area]
    energy: EnergyConfig | None = Field(default=None, description="energy, cost and carbon (analytics/energy)")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="alert routing (analytics/alerts)")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _references(self) -> Plant:
        seen: dict[str, str] = {}
        for area_id, area in self.areas.items():
            for line_id, line in area.lines.items():
                for asset_id, asset in line.assets.items():
                    where = f"areas.{area_id}.lines.{line_id}.assets.{asset_id}"
                    if asset_id in seen:
                        raise ValueError(f"{where}: asset id {asset_id!r} is already used at {seen[asset_id]}")
                    seen[asset_id] = where
                    for field, value in (("meters", asset.meters), ("measures", asset.measures)):
                        if value is not None and not any(value in ln.assets for a in self.areas.values()
                                                         for ln in a.lines.values()):
                            raise ValueError(f"{where}.{field}: unknown asset {value!r}")
                    if asset.product_signal is not None and asset.product_signal not in asset.signals:
                        raise ValueError(f"{where}.product_signal: {asset.product_signal!r} is not one of its signals")
                    if asset.pdm is not None:
                        unknown = sorted(asset.pdm.signals() - set(asset.signals))
                        if unknown:
                            raise ValueError(f"{where}.pdm: unknown signal(s) {', '.join(unknown)}")
                    for name, signal in asset.signals.items():
                        if signal.opcua and signal.opcua.connection not in self.connections.opcua:
                            known = ", ".join(sorted(self.connections.opcua)) or "none defined"
                            raise ValueError(
                                f"{where}.signals.{name}.opcua.connection: unknown connection "
                                f"{signal.opcua.connection!r} (connections.opcua has: {known})"
                            )
        if self.energy is not None:
            assets = list(self.assets())
            self.energy.check_references({p.asset: set(a.signals) for p, a in assets},
                                         {p.asset: a.meters for p, a in assets})
        return self

    def signals(self) -> Iterator[BoundSignal]:
        """Every signal of every asset, with its asset path."""
        for area_id, area in self.areas.items():
            for line_id, line in area.lines.items():
                for asset_id, asset in line.assets.items():
                    path = AssetPath(self.site, area_id, line_id, asset_id)
                    for name, signal in asset.signals.items():
                        yield BoundSignal(path, name, signal, asset.type)

    def asset(self, asset_id: str) -> tuple[AssetPath, Asset]:
        """One asset by id (ids are unique in a plant); KeyError if unknown."""
        for path, asset in self.assets():
            if path.asset == asset_id:
                return path, asset
        raise KeyError(asset_id)

    def assets(self) -> Iterator[tuple[AssetPath, Asset]]:
        """Every asset with its path."""
        for area_id, area in self.areas.items():
            for line_id, line in area.lines.items():
                for asset_id, asset in line.assets.items():
                    yield AssetPath(self.site, area_id, line_id, asset_id), asset


@dataclass(frozen=True, slots=True)
class BoundSignal:
    """A signal together with the asset it belongs to."""

    asset: AssetPath
    name: str
    spec: Signal
    asset_type: str


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant file; ConfigError names the file, the place and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: plant file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_plant(raw, source=str(path))


def parse_plant(raw: Any, *, source: str = "<plant>") -> Plant:
    """Validate an already-parsed plant document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the plant file must be a YAML mapping at the top level")
    try:
        return Plant.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid plant file\n" + _describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        kind = err["type"]
        if kind == "extra_forbidden":
            where, msg = ".".join(loc[:-1]) or "(top level)", f"unknown key {loc[-1]!r}"
        elif kind == "missing":
            where, msg = ".".join(loc[:-1]) or "(top level)", f"missing required field {loc[-1]!r}"
        else:
            where, msg = ".".join(loc) or "(top level)", _clean(err["msg"])
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def _clean(msg: str) -> str:
    # pydantic prefixes errors raised in validators with "Value error, "; the user needs only the rest.
    return re.sub(r"^(Value|Assertion) error, ", "", msg)
