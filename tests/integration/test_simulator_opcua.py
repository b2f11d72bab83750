"""The simulator's OPC UA servers seen by an independent client (node-opcua), and its CLI end to end."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.localservers import free_port
from simulators.cli import simulate
from simulators.plant_sim import PlantSimulator
from simulators.scenario import DEFAULT_PLANT, REPO_ROOT
from simulators.units import unit_id
from tests.helpers import running
from twin.mqtt import MqttClient
from twin.plant import Plant, parse_plant
from twin.settings import MqttEndpoint

pytestmark = pytest.mark.integration
NODE_CLIENT = REPO_ROOT / "tests" / "interop" / "opcua_client.mjs"
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def full_plant_raw() -> dict[str, object]:
    """The full example plant with its OPC UA servers moved to free ports."""
    raw = yaml.safe_load(DEFAULT_PLANT.read_text())
    for conn in raw["connections"]["opcua"].values():
        conn["endpoint"] = f"opc.tcp://127.0.0.1:{free_port()}"
    return raw


@pytest.fixture
async def devices(mqtt_endpoint: MqttEndpoint) -> AsyncIterator[MqttClient]:
    """The MQTT client the simulated devices publish with."""
    async with MqttClient(endpoint=mqtt_endpoint, client_id="sim-devices") as client:
        yield client


async def test_node_opcua_browses_reads_units_and_receives_accelerated_updates(devices: MqttClient) -> None:
    assert shutil.which("node"), "Node.js is part of the test environment"
    assert (REPO_ROOT / "node_modules" / "node-opcua-client").exists(), "run `make setup` (npm ci)"
    plant: Plant = parse_plant(full_plant_raw())
    endpoint = plant.connections.opcua["machining"].endpoint
    speed_node, temp_node = "ns=2;s=cnc-01.spindle_speed", "ns=2;s=cnc-02.spindle_temp"
    async with PlantSimulator(plant, mqtt=devices, tick_s=1.0, speed=10, start=START) as sim:
        async with running(sim.run()):
            proc = await asyncio.create_subprocess_exec(
                "node", str(NODE_CLIENT), endpoint, f"{speed_node},{temp_node}", "2500",
                cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    # node-opcua logs to stdout too; the client's result is the one JSON line.
    result = json.loads(next(line for line in out.decode().splitlines() if line.startswith('{"variables"')))
    paths = {v["path"]: v for v in result["variables"]}
    # Plant / Area / Line / Machine / signal, exactly the plant file's hierarchy and node ids.
    assert paths["full-plant/machining/line-1/cnc-01/spindle_speed"]["nodeId"] == speed_node
    band = paths["full-plant/machining/line-2/cnc-04/bearing_band_energy"]
    assert band["nodeId"] == "ns=2;s=cnc-04.bearing_band_energy"
    assert len([p for p in paths if p.startswith("full-plant/machining/")]) == 4 * 14
    analog_item_type = "ns=0;i=2368"
    assert paths["full-plant/machining/line-1/cnc-01/spindle_speed"]["typeDefinition"] == analog_item_type
    assert result["units"][speed_node] == {"unitId": unit_id("RPM"), "displayName": "rpm", "low": 0, "high": 12000,
                                           "namespaceUri": "http://www.opcfoundation.org/UA/units/un/cefact"}
    assert result["units"][temp_node]["unitId"] == unit_id("CEL")
    temps = result["updates"][temp_node]
    # 2.5 s at 10x: ~25 ticks; every update carries the simulated source time, 1 s apart.
    assert temps["count"] >= 10
    stamps = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in temps["sourceTimestamps"]]
    assert all(START < t < START + timedelta(minutes=2) for t in stamps)
    assert {round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(stamps)} <= {1.0, 2.0, 3.0}


async def test_server_restart_and_device_offline_follow_the_scenario(devices: MqttClient, tmp_path: Path) -> None:
    from simulators.scenario import parse_scenario

    plant = parse_plant(full_plant_raw())
    scenario = parse_scenario({"name": "t", "faults": [
        {"kind": "server_restart", "connection": "utilities", "onset": 20, "downtime": 20},
        {"kind": "device_offline", "asset": "meter-cnc-01", "onset": 10, "duration": 30}]})
    truth: list[object] = []
    async with PlantSimulator(plant, mqtt=devices, tick_s=1.0, scenario=scenario, start=START, speed=30,
                              on_value=truth.append, labels_path=tmp_path / "labels.csv") as sim:
        first = sim.servers["utilities"]
        await sim.run(ticks=60)
        assert sim.servers["utilities"] is not first and sim.servers["utilities"].running
    comp = sorted({(t.ts - START).total_seconds() for t in truth  # type: ignore[attr-defined]
                   if t.signal.asset.asset == "comp-01"})  # type: ignore[attr-defined]
    assert not [s for s in comp if 20 <= s < 40] and any(s >= 40 for s in comp) and any(s < 20 for s in comp)
    meter = {(t.ts - START).total_seconds() for t in truth if t.signal.asset.asset == "meter-cnc-01"}  # type: ignore[attr-defined]
    assert not [s for s in meter if 10 <= s < 40] and max(meter) == 60
    with (tmp_path / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {(r["asset"], r["kind"]) for r in rows} == {("comp-01", "server_restart"), ("comp-02", "server_restart"),
                                                       ("meter-cnc-01", "device_offline")}


def test_cli_runs_a_scenario_fast_and_writes_labels(mosquitto: object, tmp_path: Path) -> None:
    plant_file = tmp_path / "plant.yaml"
    plant_file.write_text(yaml.safe_dump(full_plant_raw()))
    scenario_file = tmp_path / "leak.yaml"
    scenario_file.write_text(yaml.safe_dump({
        "name": "leak", "plant": str(plant_file), "start": "2026-11-23T06:00:00Z", "tick_s": 5,
        "faults": [{"kind": "air_leak", "asset": "comp-01", "onset": "5m"},
                   {"kind": "meter_reset", "asset": "meter-main", "onset": "10m"}]}))
    labels = tmp_path / "labels.csv"
    result = CliRunner().invoke(
        simulate, ["--scenario", str(scenario_file), "--speed", "600", "--duration", "15m", "--labels", str(labels)],
        env={"TWIN_MQTT_URL": mosquitto.url})  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert "simulated 900 s up to 2026-11-23T06:15:00+00:00" in result.output
    with labels.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["asset"], r["kind"], r["start"]) for r in rows] == [
        ("comp-01", "air_leak", "2026-11-23T06:05:00Z"), ("meter-main", "meter_reset", "2026-11-23T06:10:00Z")]


def test_cli_lists_each_shipped_scenario_on_one_line() -> None:
    result = CliRunner().invoke(simulate, ["--list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) >= 6 and all(len(line.split(maxsplit=1)) == 2 for line in lines)
    assert {line.split()[0] for line in lines} >= {"bearing-failure", "protocol-faults", "energy-waste"}
