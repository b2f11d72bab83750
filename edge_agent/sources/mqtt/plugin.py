"""Registers the MQTT device source (entry point `mqtt` in `factory_twin.sources`)."""

from __future__ import annotations

from edge_agent.sources.mqtt.config import MqttBinding
from twin.plugins import SourcePlugin


def _describe(binding: MqttBinding) -> str:
    return f"mqtt {binding.topic} {binding.path}"


PLUGIN = SourcePlugin(
    name="mqtt", binding=MqttBinding, describe=_describe, edge="edge_agent.sources.mqtt.source:build_sources",
    summary="take a value from the JSON a device publishes on an MQTT topic",
)
