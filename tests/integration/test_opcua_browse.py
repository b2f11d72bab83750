"""Onboarding a machine by browsing: `twin opcua browse --yaml` on the simulator gives bindings that work."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml

from app.localservers import free_port
from edge_agent.sources.opcua.browse import signal_name
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.plant_sim import PlantSimulator
from tests.helpers import eventually, example_plant
from twin.mqtt import MqttClient
from twin.plant import load_plant
from twin.readings import Reading
from twin.settings import MqttEndpoint
from twin.stats import Stats

pytestmark = pytest.mark.integration

TWIN = str(Path(sys.executable).with_name("twin"))


async def twin(*args: str, state: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(TWIN, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, "TWIN_STATE_DIR": str(state)})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_browse_yaml_gives_bindings_that_plant_check_accepts_and_the_edge_collects(
        tmp_path: Path, mqtt_endpoint: MqttEndpoint) -> None:
    port = free_port()
    plant = example_plant(opcua_port=port)
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    cnc_signals = {s.name: s for s in plant.signals() if s.asset.asset == "cnc-01"}
    async with MqttClient(endpoint=mqtt_endpoint, client_id="devices") as devices, \
            PlantSimulator(plant, mqtt=devices, tick_s=0.1) as sim:
        run = asyncio.create_task(sim.run())
        try:
            cnc_folder = "ns=2;s=demo-plant/machining/line-1/cnc-01"
            code, out, err = await twin("opcua", "browse", endpoint, "--under", cnc_folder, "--yaml",
                                        "--connection", "cell-9", state=tmp_path)
            assert code == 0, err
            signals = yaml.safe_load(out)["signals"]
            # Every variable the simulator serves for the CNC, with its unit from EngineeringUnits.
            by_node = {s["opcua"]["node"]: (name, s) for name, s in signals.items()}
            for sig in cnc_signals.values():
                node = sig.spec.section("opcua").node
                assert node in by_node, node
                assert by_node[node][1].get("unit", "") == sig.spec.unit
                assert by_node[node][1]["opcua"]["connection"] == "cell-9"
            # Pasted under an asset of a plant file: `twin plant check` accepts it.
            doc = {"version": 1, "site": "s1",
                   "connections": {"opcua": {"cell-9": {"endpoint": endpoint, "publishing_interval_ms": 50}}},
                   "areas": {"a": {"lines": {"l": {"assets": {"cnc-new": {"type": "cnc", "signals": signals}}}}}}}
            path = tmp_path / "onboarded.yaml"
            path.write_text(yaml.safe_dump(doc))
            code, out, err = await twin("plant", "check", str(path), state=tmp_path)
            assert code == 0, err
            assert "cnc-new" in out
            # And the edge's OPC UA source collects every one of them.
            onboarded = load_plant(path)
            got: dict[str, Reading] = {}
            source = OpcUaSource(name="cell-9", connection=onboarded.connections_of("opcua")["cell-9"],
                                 signals=list(onboarded.signals()), stats=Stats("t"))
            task = asyncio.create_task(source.run(lambda r: got.setdefault(r.signal, r)))
            try:
                async def all_collected() -> bool:
                    return set(got) == set(signals)

                await eventually(all_collected, timeout_s=20)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            # `twin opcua read` reads one of them.
            node = cnc_signals["spindle_speed"].spec.section("opcua").node
            code, out, err = await twin("opcua", "read", endpoint, node, state=tmp_path)
            assert code == 0 and node in out and "Good" in out, err + out
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)


async def test_browse_errors_are_one_line(tmp_path: Path) -> None:
    closed = free_port()
    code, _out, err = await twin("opcua", "browse", f"opc.tcp://127.0.0.1:{closed}", "--timeout", "1", state=tmp_path)
    assert code != 0 and "cannot connect to" in err and "Traceback" not in err
    code, _out, err = await twin("opcua", "browse", "http://x", state=tmp_path)
    assert code != 0 and "is not an OPC UA endpoint" in err
    code, _out, err = await twin("opcua", "read", f"opc.tcp://127.0.0.1:{closed}", "not-a-node", state=tmp_path)
    assert code != 0 and "is not a node id" in err and "Traceback" not in err


def test_signal_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    names = [signal_name(p, taken) for p in (("A", "Spindle Speed"), ("B", "Spindle Speed"), ("_x",), ("温度",))]
    assert names[:2] == ["Spindle_Speed", "Spindle_Speed_2"]
    assert all(n[0].isalnum() for n in names) and len(set(names)) == 4
