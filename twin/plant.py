"""The plant model: one YAML file describing the plant as an ISA-95 hierarchy.

site → areas → lines → assets → signals, each signal bound to its source by a source
plugin (`opcua: {connection, node}`, `mqtt: {topic, path}`, ...), and sections that
analytic plugins own (`spc:` in a signal, `pdm:` in an asset, `energy:` and `alerts:` at
the top). The core knows none of them: the pydantic models are assembled from the plugin
registry (twin/plugins.py) the first time a plant is parsed, so a new protocol or
analytic adds its keys without a change here. Validation is strict (`extra="forbid"`),
and `load_plant` turns pydantic's errors into messages that name the file, the path
inside it and what is wrong, e.g.

    plant.yaml: areas.machining.lines.line-1.assets.cnc-01.signals.speed: unknown key 'unti'

Runtime settings (URLs, credentials) are not here: they come from the environment
(`twin.settings`), so the plant file never holds a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from twin.errors import ConfigError
from twin.plugins import Registry, Scope, registry
from twin.timezones import zone
from twin.topics import AssetPath
from twin.yamlfile import read_yaml

# Identifiers become MQTT topic levels and InfluxDB tag values: no wildcards (+ #),
# no separators (/), no spaces, and not starting with '_' (reserved for twin/v1/_sys).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def section(self, name: str) -> Any:
        """The validated plugin section (or source binding) `name` here, or None when absent."""
        return getattr(self, name, None)


class Signal(_Model):
    """One measured quantity of an asset, bound to exactly one source plugin."""

    unit: str = Field(default="", description="engineering unit, e.g. rpm, degC, kW")
    description: str = ""
    deadband: float = Field(default=0.0, ge=0, description="absolute deadband; 0 keeps every change")

    @property
    def source(self) -> str:
        """The name of the source plugin this signal is bound to (e.g. opcua)."""
        for name in registry().sources:
            if getattr(self, name, None) is not None:
                return name
        raise ConfigError("signal has no source binding")  # unreachable: validation requires one

    @property
    def binding(self) -> Any:
        """The signal's source binding (the model its source plugin defines)."""
        return getattr(self, self.source)


class Asset(_Model):
    """A machine, meter or sensor: the leaf of the hierarchy."""

    type: Ident = Field(default="generic", description="equipment class, e.g. cnc, energy_meter")
    description: str = ""
    meters: Ident | None = Field(default=None, description="for a meter: the asset whose energy it measures")
    measures: Ident | None = Field(default=None, description="for a gauge: the machine whose parts it measures")
    product_signal: Ident | None = Field(
        default=None, description="for a gauge: the signal naming the product or recipe (per-product SPC limits)")
    signals: dict[Ident, Signal]


class Line(_Model):
    """A production line (ISA-95 work centre)."""

    description: str = ""
    assets: dict[Ident, Asset]


class Area(_Model):
    """A plant area."""

    description: str = ""
    lines: dict[Ident, Line]


class Connections(_Model):
    """Named protocol connections that signals bind to, one mapping per source plugin that has them."""


class Plant(_Model):
    """The whole plant file."""

    version: Literal[1]
    site: Ident
    name: str = ""
    timezone: str = "Asia/Shanghai"
    connections: Connections = Field(default_factory=Connections)
    areas: dict[Ident, Area]
    _known: dict[AssetPath, frozenset[str]] = PrivateAttr(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        zone(v)
        return v

    def signals(self) -> Iterator[BoundSignal]:
        """Every signal of every asset, with its asset path."""
        for path, asset in self.assets():
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

    def connections_of(self, source: str) -> dict[str, Any]:
        """The named connections of one source plugin (empty when it has none)."""
        return dict(getattr(self.connections, source, None) or {})

    def knows(self, asset: AssetPath, signal: str | None = None) -> bool:
        """True when the asset (and, if given, its signal) is in this plant: what the stream admits."""
        names = self._known.get(asset)
        return names is not None and (signal is None or signal in names)

    def _check_references(self) -> None:
        self._known = {path: frozenset(asset.signals) for path, asset in self.assets()}
        seen: dict[str, str] = {}
        ids = {path.asset for path, _ in self.assets()}
        sources = registry().sources
        for path, asset in self.assets():
            where = f"areas.{path.area}.lines.{path.line}.assets.{path.asset}"
            if path.asset in seen:
                raise ValueError(f"{where}: asset id {path.asset!r} is already used at {seen[path.asset]}")
            seen[path.asset] = where
            for field, value in (("meters", asset.meters), ("measures", asset.measures)):
                if value is not None and value not in ids:
                    raise ValueError(f"{where}.{field}: unknown asset {value!r}")
            if asset.product_signal is not None and asset.product_signal not in asset.signals:
                raise ValueError(f"{where}.product_signal: {asset.product_signal!r} is not one of its signals")
            for name, signal in asset.signals.items():
                plugin = sources[signal.source]
                connection = plugin.connection_of(signal.binding)
                known = self.connections_of(plugin.name)
                if connection is not None and connection not in known:
                    listed = ", ".join(sorted(known)) or "none defined"
                    raise ValueError(f"{where}.signals.{name}.{plugin.name}.connection: unknown connection "
                                     f"{connection!r} (connections.{plugin.name} has: {listed})")
        for analytic in registry().analytics.values():
            if analytic.check is not None:
                analytic.check(self)


def _one_binding(names: tuple[str, ...]) -> Any:
    def check(signal: Any) -> Any:
        bound = [n for n in names if getattr(signal, n, None) is not None]
        if len(bound) != 1:
            raise ValueError(f"needs exactly one source binding: {' or '.join(repr(n) for n in names)}")
        return signal
    return check


def _fields(plugins: Registry, scope: Scope) -> dict[str, Any]:
    return {p.name: (p.model | None, Field(default=None, description=p.summary or None))
            for p in plugins.analytics_in(scope)}


def _derive(name: str, base: type[Any], validators: dict[str, Any] | None = None, **fields: Any) -> Any:
    """pydantic's create_model for a subclass of one of the models above, with fields known only at run time."""
    return create_model(name, __base__=base, __module__=__name__, __validators__=validators, **fields)


def _by_id(model: Any) -> Any:
    """The type `dict[Ident, model]` for a model built at run time."""
    return dict[Ident, model]


@cache
def plant_model() -> type[Plant]:
    """The plant model with every installed plugin's keys: built once, from the registry."""
    plugins = registry()
    names = tuple(sorted(plugins.sources))
    signal_fields = {n: (p.binding | None, Field(default=None, description=p.summary or None))
                     for n, p in sorted(plugins.sources.items())}
    signal = _derive("Signal", Signal, {"_one_binding": model_validator(mode="after")(_one_binding(names))},
                     **signal_fields, **_fields(plugins, Scope.SIGNAL))
    asset = _derive("Asset", Asset, signals=(_by_id(signal), ...), **_fields(plugins, Scope.ASSET))
    line = _derive("Line", Line, assets=(_by_id(asset), ...))
    area = _derive("Area", Area, lines=(_by_id(line), ...))
    connection_fields: dict[str, Any] = {n: (_by_id(p.connection), Field(default_factory=dict))
                                         for n, p in sorted(plugins.sources.items()) if p.connection is not None}
    connections = _derive("Connections", Connections, **connection_fields)
    plant_sections: dict[str, Any] = {}
    for p in plugins.analytics_in(Scope.PLANT):
        default = p.default
        plant_sections[p.name] = ((p.model, Field(default_factory=default, description=p.summary or None))
                                  if default is not None else
                                  (p.model | None, Field(default=None, description=p.summary or None)))

    def references(plant: Plant) -> Plant:
        plant._check_references()
        return plant

    model: type[Plant] = _derive("Plant", Plant, {"_references": model_validator(mode="after")(references)},
                                 connections=(connections, Field(default_factory=connections)),
                                 areas=(_by_id(area), ...), **plant_sections)
    return model


@dataclass(frozen=True, slots=True)
class BoundSignal:
    """A signal together with the asset it belongs to."""

    asset: AssetPath
    name: str
    spec: Signal
    asset_type: str


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant file; ConfigError names the file, the place and the problem."""
    return parse_plant(read_yaml(path, what="plant file"), source=str(path))


def parse_plant(raw: Any, *, source: str = "<plant>") -> Plant:
    """Validate an already-parsed plant document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the plant file must be a YAML mapping at the top level")
    try:
        return plant_model().model_validate(raw)
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
