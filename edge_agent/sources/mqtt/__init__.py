"""MQTT device source: JSON documents from meters, sensors and gauges. `source.py` holds the consumer."""

from edge_agent.sources.mqtt.config import MqttBinding
from edge_agent.sources.mqtt.plugin import PLUGIN

__all__ = ["PLUGIN", "MqttBinding"]
