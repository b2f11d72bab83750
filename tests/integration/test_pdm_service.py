"""The PdM service against real servers: telemetry on Mosquitto → AnalyticRunner(PdmAnalytic) → InfluxDB and alerts.

A CNC of the example plant (pdm: window 60 s, hop 10 s, 30 baseline windows) publishes
source-stamped telemetry as fast as it can: healthy for ten minutes of source time (the
service learns its baseline), then a bearing defect that grows until failure.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from analytics.pdm.history import train_from_history
from analytics.pdm.service import build_pdm
from analytics.runtime import AnalyticRunner
from ingest.schema import telemetry_lines
from tests.helpers import EXAMPLE_PLANT, eventually, running
from twin import topics
from twin.events import AlertEvent, EventState
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.plant import Plant, parse_plant
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

# The pdm section this test was designed for (the example plant's own may change with the demo).
PDM = {"component": "spindle bearing", "vibration": ["vibration_rms", "bearing_band_energy"],
       "temperature": ["spindle_temp"], "current": "motor_current", "load": "spindle_load",
       "window_s": 60, "hop_s": 10, "baseline_windows": 30}


def pdm_plant() -> Plant:
    """The example plant with cnc-01's pdm section set to PDM."""
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    raw["areas"]["machining"]["lines"]["line-1"]["assets"]["cnc-01"]["pdm"] = PDM
    return parse_plant(raw)

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def cnc_readings(asset: AssetPath, seconds: int, *, start_s: int = 0, growth_per_h: float = 0.0,
                 seed: int = 0) -> list[Reading]:
    """1 Hz readings of the signals cnc-01's pdm section uses; the defect grows after start_s."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(start_s, start_s + seconds):
        d = math.exp(growth_per_h * (k - start_s) / 3600)
        ts = T0 + timedelta(seconds=k)
        load = 55 + rng.normal(0, 2)
        values = {"vibration_rms": 1.0 + 0.1 * (d - 1) + abs(rng.normal(0, 0.04)),
                  "bearing_band_energy": 0.04 * d * math.exp(rng.normal(0, 0.08)),
                  "spindle_temp": 40 + 0.3 * (d - 1) + rng.normal(0, 0.05),
                  "motor_current": 0.3 * load + rng.normal(0, 0.1), "spindle_load": load}
        out.extend(Reading(asset, name, ts, round(float(v), 5)) for name, v in values.items())
    return out


async def publish(client: MqttClient, asset: AssetPath, readings: list[Reading], *, batch: int = 250) -> None:
    topic = topics.asset_topic(asset, "telemetry")
    for i in range(0, len(readings), batch):
        await client.publish(topic, encode(asset, readings[i:i + batch], agent="test"), qos=1, timeout_s=30)


async def test_health_points_and_a_maintenance_alert_from_live_telemetry(
        mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    plant = pdm_plant()
    asset, _ = plant.asset("cnc-01")
    analytic = build_pdm(plant, tmp_path / "models", check_interval_s=0.5)
    assert analytic is not None
    runner = AnalyticRunner(analytic, mqtt_endpoint=mqtt_endpoint, influx=influx, instance="t")
    alerts: list[AlertEvent] = []
    async with MqttClient(endpoint=mqtt_endpoint, client_id="pdm-test") as client, running(runner.run()):
        await client.subscribe(topics.asset_topic(asset, "alerts"))
        await asyncio.wait_for(runner.ready.wait(), 10)
        await publish(client, asset, cnc_readings(asset, 900))                     # baseline, then healthy
        await publish(client, asset, cnc_readings(asset, 3 * 3600, start_s=900, growth_per_h=1.2, seed=1))

        async def alert_seen() -> bool:
            while not client.messages.empty():
                alerts.append(AlertEvent.decode(client.messages.get_nowait().payload))
            return any(a.kind == "health_alarm" for a in alerts)

        await eventually(alert_seen, timeout_s=20)

        async def points() -> list[dict[str, object]]:
            series = await influx.query('SELECT * FROM "health" WHERE "asset" = $asset', params={"asset": "cnc-01"})
            return [r for s in series for r in s.records()]

        async def all_written() -> bool:
            return len(await points()) >= 1100
        await eventually(all_written, timeout_s=20)

    rows = await points()
    assert {r["site"] for r in rows} == {asset.site} and {r["line"] for r in rows} == {asset.line}
    assert rows[0]["state"] == "normal" and rows[0]["health_index"] == 100.0
    assert rows[-1]["state"] == "alarm" and rows[-1]["rul_hours"] is not None
    keys = await influx.query('SHOW FIELD KEYS FROM "health"')
    types = {r["fieldKey"]: r["fieldType"] for s in keys for r in s.records()}
    assert types == {"health_index": "float", "anomaly_score": "float", "rul_hours": "float",
                     "rul_low_hours": "float", "rul_high_hours": "float", "state": "string", "model_version": "float"}
    firing = [a for a in alerts if a.state is EventState.FIRING]
    assert firing[0].kind == "health_warning" and firing[0].key == "pdm:health" and firing[0].source == "pdm"
    assert firing[-1].message.startswith("cnc-01 spindle bearing: health ")
    changes = [(a.details["previous_state"], a.details["state"]) for a in alerts
               if a.details["previous_state"] != a.details["state"]]
    assert changes == [("normal", "warning"), ("warning", "alarm")]  # no flapping; the rest are hourly updates
    assert list((tmp_path / "models").glob("*.v1.joblib"))  # the learnt baseline was saved


async def test_train_history_reads_telemetry_back_from_influxdb(influx: InfluxDB, tmp_path: Path) -> None:
    plant = pdm_plant()
    asset, spec = plant.asset("cnc-01")
    assert spec.pdm is not None
    readings = cnc_readings(asset, 1200)
    await influx.write(telemetry_lines(readings))
    trained = await train_from_history(influx, asset, spec.pdm, T0, T0 + timedelta(seconds=1200), tmp_path,
                                       trim=None)
    assert len(trained) == 1 and trained[0].key == str(asset)
    info = trained[0].model.info
    assert info.version == 1 and trained[0].windows == (1200 - 60) // 10
    assert "bearing_band_energy_rms" in info.feature_names and info.train_end is not None
    # Only the period asked for: a second model from the first half has fewer windows.
    again = await train_from_history(influx, asset, spec.pdm, T0, T0 + timedelta(seconds=600), tmp_path, trim=None)
    assert again[0].model.info.version == 2 and again[0].windows == (600 - 60) // 10
