"""Plugin contracts and their registry: protocols and analytics add themselves, the core only lists them.

Entry-point groups (declared in pyproject.toml, read with importlib.metadata):

    factory_twin.sources     one SourcePlugin per protocol (opcua, mqtt, ...)
    factory_twin.analytics   one AnalyticPlugin per plant-file section (spc, pdm, energy, alerts)
    factory_twin.simulators  per protocol, the simulator's devices (simulators/devices.py), optional

A plugin object describes what the core needs to read a plant file: the pydantic model of
its binding or section (and of its named connections), how to describe a binding in one
line, which cross-references to check. What a plugin *builds* (an edge-agent source, a
streaming analytic, a simulated device) belongs to the layer that builds it, so the
plugin names those builders as "module:attribute" references that `load_ref` imports on
first use: validating a plant file never imports asyncua, scikit-learn or the SPC engine.

Adding a protocol (Modbus TCP, say) is one folder with its binding model, its edge source
(and, if wanted, its simulator) plus one entry-point line; no switch statement changes.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from twin.errors import ConfigError

if TYPE_CHECKING:
    from twin.plant import Plant

SOURCES_GROUP = "factory_twin.sources"
ANALYTICS_GROUP = "factory_twin.analytics"
SIMULATORS_GROUP = "factory_twin.simulators"  # name of a source plugin → its simulated devices


class Scope(enum.StrEnum):
    """Where in the plant file an analytic's section sits."""

    PLANT = "plant"  # top level, e.g. energy:, alerts:
    ASSET = "asset"  # inside an asset, e.g. pdm:
    SIGNAL = "signal"  # inside a signal, e.g. spc:


def _no_connection(binding: Any) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class SourcePlugin:
    """A protocol the edge agent reads signals from.

    `name` is the key of the binding inside a signal (`opcua: {connection, node}`) and, when
    the protocol has named connections, the key under `connections:`.
    """

    name: str
    binding: type[BaseModel]
    describe: Callable[[Any], str]
    edge: str  # "module:attribute" of an edge_agent.sources.base.SourceFactory
    connection: type[BaseModel] | None = None
    connection_of: Callable[[Any], str | None] = _no_connection
    summary: str = ""


@dataclass(frozen=True, slots=True)
class AnalyticPlugin:
    """An analytic (or another service) configured by one section of the plant file."""

    name: str
    scope: Scope
    model: type[BaseModel]
    summary: str = ""
    # Cross-references the section model cannot check on its own (e.g. a pdm: section naming
    # signals of its asset): called with the validated plant; raise ValueError naming the place.
    check: Callable[[Plant], None] | None = None
    # "module:attribute" of a function (plant, settings) -> streaming analytic or None.
    stream: str | None = None
    # For plant-scope sections: build the section when the file has none (alerts: defaults).
    default: Callable[[], BaseModel] | None = None


@dataclass(frozen=True)
class Registry:
    """Every installed plugin, by name."""

    sources: Mapping[str, SourcePlugin] = field(default_factory=dict)
    analytics: Mapping[str, AnalyticPlugin] = field(default_factory=dict)

    def analytics_in(self, scope: Scope) -> list[AnalyticPlugin]:
        """The analytic plugins whose section sits at `scope`, in name order."""
        return [p for _, p in sorted(self.analytics.items()) if p.scope is scope]

    def source(self, name: str) -> SourcePlugin:
        """One source plugin; ConfigError lists the installed ones."""
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(f"no source plugin {name!r} (installed: {', '.join(sorted(self.sources))})") from None


def _load_group(group: str, kind: type[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must name itself, not crash the import
            raise ConfigError(f"plugin {ep.name!r} ({ep.value}) in {group} failed to load: "
                              f"{type(exc).__name__}: {exc}") from None
        if not isinstance(plugin, kind):
            raise ConfigError(f"plugin {ep.name!r} ({ep.value}) in {group} is not a {kind.__name__}")
        if plugin.name != ep.name:
            raise ConfigError(f"plugin {ep.value} registers as {ep.name!r} but calls itself {plugin.name!r}")
        found[ep.name] = plugin
    return found


@cache
def registry() -> Registry:
    """The installed plugins (read once per process from the entry points)."""
    sources = _load_group(SOURCES_GROUP, SourcePlugin)
    analytics = _load_group(ANALYTICS_GROUP, AnalyticPlugin)
    clash = sorted(set(sources) & set(analytics))
    if clash:
        raise ConfigError(f"plugin names used both by a source and an analytic: {', '.join(clash)}")
    if not sources:
        raise ConfigError("no source plugins installed: is factory-twin installed (pip install -e .)?")
    return Registry(sources=sources, analytics=analytics)


@cache
def simulator_refs() -> dict[str, str]:
    """The installed device simulators: source plugin name → "module:attribute" of its factory (not imported)."""
    return {ep.name: ep.value for ep in entry_points(group=SIMULATORS_GROUP)}


def load_ref(ref: str) -> Any:
    """Import "package.module:attribute" and return the attribute."""
    module, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load {ref!r}: {exc}") from None
