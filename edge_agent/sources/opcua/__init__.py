"""OPC UA source: subscriptions on machine servers (asyncua). `source.py` holds the client, loaded when used."""

from edge_agent.sources.opcua.config import OpcUaBinding, OpcUaConnection, OpcUaUserCertificate
from edge_agent.sources.opcua.plugin import PLUGIN

__all__ = ["PLUGIN", "OpcUaBinding", "OpcUaConnection", "OpcUaUserCertificate"]
