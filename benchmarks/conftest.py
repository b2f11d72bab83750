"""Benchmarks reuse the test fixtures (real Mosquitto and InfluxDB on loopback)."""

from tests.conftest import influx, influxdb_server, mosquitto, mqtt_endpoint  # noqa: F401
