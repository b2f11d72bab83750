"""Ingest: MQTT telemetry into InfluxDB, acknowledging only what the database accepted."""

from ingest.schema import telemetry_lines
from ingest.service import Ingest, IngestOptions

__all__ = ["Ingest", "IngestOptions", "telemetry_lines"]
