"""Edge agent: collects machine and sensor data (OPC UA, MQTT) and forwards it, losing nothing."""

from edge_agent.agent import EdgeAgent, EdgeOptions
from edge_agent.queue import DiskQueue

__all__ = ["DiskQueue", "EdgeAgent", "EdgeOptions"]
