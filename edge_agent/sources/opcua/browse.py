"""Browse an OPC UA server's address space: the variables a plant file can bind, with their units.

Onboarding a machine should not mean typing node ids: `browse()` walks the hierarchy
below a node (the Objects folder by default) and returns every variable with its node
id, browse path, data type, EngineeringUnits (OPC UA Part 8 §5.6.3: an EUInformation
property) and EURange; `bindings_yaml()` turns them into plant-file signals ready to
paste under an asset, units filled in. The walk is bounded (depth and count), visits a
node once, and skips the server's own `Server` object (diagnostics, not process data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from asyncua import Client, Node, ua

from twin.errors import TwinError
from twin.plant import ID_PATTERN

MAX_DEPTH = 12
MAX_VARIABLES = 10_000
_ID = re.compile(ID_PATTERN)


class BrowseError(TwinError):
    """The server could not be reached or browsed; the message says where it failed."""


@dataclass(frozen=True, slots=True)
class Variable:
    """One variable of the address space."""

    node_id: str
    path: tuple[str, ...]  # browse names from the start node down, without namespace prefixes
    data_type: str
    unit: str
    eu_range: tuple[float, float] | None


async def browse(client: Client, start: str | None = None, *, max_depth: int = MAX_DEPTH,
                 max_variables: int = MAX_VARIABLES) -> list[Variable]:
    """Every variable below `start` (a node id; default the Objects folder), in browse order."""
    root = client.nodes.objects if start is None else client.get_node(start)
    found: list[Variable] = []
    seen: set[str] = set()
    server_object = ua.NodeId(ua.ObjectIds.Server)

    async def walk(node: Node, path: tuple[str, ...], depth: int) -> None:
        if depth > max_depth or len(found) >= max_variables:
            return
        refs = await node.get_children_descriptions()
        for ref in refs:
            child_id = ref.NodeId
            key = child_id.to_string()
            if key in seen or child_id == server_object:
                continue
            seen.add(key)
            child = client.get_node(child_id)
            name = ref.BrowseName.Name or key
            if ref.NodeClass == ua.NodeClass.Variable:
                if name in ("EngineeringUnits", "EURange", "InstrumentRange", "Definition", "ValuePrecision"):
                    continue  # properties of an AnalogItem, not process values
                found.append(await _variable(child, (*path, name)))
                if len(found) >= max_variables:
                    return
            elif ref.NodeClass == ua.NodeClass.Object:
                await walk(child, (*path, name), depth + 1)

    await walk(root, (), 0)
    return found


async def _variable(node: Node, path: tuple[str, ...]) -> Variable:
    try:
        data_type = (await node.read_data_type_as_variant_type()).name
    except Exception:  # a data type outside the built-in ones: still bindable, shown as its id
        data_type = "?"
    unit, eu_range = "", None
    try:
        eu = await (await node.get_child("0:EngineeringUnits")).read_value()
        unit = str(eu.DisplayName.Text or "") if eu is not None and eu.DisplayName is not None else ""
    except ua.UaError:
        pass  # no EngineeringUnits property
    try:
        rng = await (await node.get_child("0:EURange")).read_value()
        eu_range = (float(rng.Low), float(rng.High)) if rng is not None else None
    except ua.UaError:
        pass
    return Variable(node.nodeid.to_string(), path, data_type, unit, eu_range)


def signal_name(path: Sequence[str], taken: set[str]) -> str:
    """A plant-file identifier for a variable: its browse name, made valid and unique."""
    base = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path[-1] if path else "signal").strip("_.-") or "signal"
    if not base[0].isalnum():
        base = "s" + base
    base = base[:56]
    name, n = base, 2
    while name in taken or not _ID.fullmatch(name):
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def bindings_yaml(variables: Sequence[Variable], *, connection: str) -> str:
    """Plant-file `signals:` for these variables, bound to `connection`, as YAML."""
    taken: set[str] = set()
    signals: dict[str, Any] = {}
    for v in variables:
        spec: dict[str, Any] = {}
        if v.unit:
            spec["unit"] = v.unit
        spec["description"] = "/".join(v.path)
        spec["opcua"] = {"connection": connection, "node": v.node_id}
        signals[signal_name(v.path, taken)] = spec
    return yaml.safe_dump({"signals": signals}, sort_keys=False, allow_unicode=True, width=120)
