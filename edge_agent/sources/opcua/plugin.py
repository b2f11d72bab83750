"""Registers the OPC UA source (entry point `opcua` in `factory_twin.sources`)."""

from __future__ import annotations

from edge_agent.sources.opcua.config import OpcUaBinding, OpcUaConnection
from twin.plugins import SourcePlugin


def _describe(binding: OpcUaBinding) -> str:
    return f"opcua {binding.connection} {binding.node}"


def _connection_of(binding: OpcUaBinding) -> str:
    return binding.connection


PLUGIN = SourcePlugin(
    name="opcua", binding=OpcUaBinding, connection=OpcUaConnection, describe=_describe,
    connection_of=_connection_of, edge="edge_agent.sources.opcua.source:build_sources",
    summary="read from an OPC UA node through a subscription",
)
