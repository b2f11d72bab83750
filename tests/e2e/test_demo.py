"""`twin demo` as a user runs it: a subprocess, with and without servers of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from app.localservers import LocalInfluxDB, LocalMosquitto, free_port
from tests.helpers import EXAMPLE_PLANT
from twin.plant import load_plant

pytestmark = pytest.mark.integration


def _plant_file(tmp_path: Path) -> Path:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    raw["connections"]["opcua"]["cell-1"]["endpoint"] = f"opc.tcp://127.0.0.1:{free_port()}"
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _twin(args: list[str], env: dict[str, str], timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    """Run `twin ARGS` as a user would; if it hangs, fail with its Python stacks (faulthandler on SIGABRT)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    base["TWIN_API_PORT"] = str(free_port())
    cmd = [sys.executable, "-X", "faulthandler", "-m", "app.cli", *args]
    with subprocess.Popen(cmd, env={**base, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2]) as proc:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # twin prints its asyncio tasks' stacks
            try:
                proc.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack to stderr
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"`twin {' '.join(args)}` did not finish in {timeout_s} s\n--- stdout\n{out}\n"
                        f"--- stderr (stacks at the time)\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_demo_uses_given_servers_and_leaves_points_for_every_signal(
    mosquitto: LocalMosquitto, influxdb_server: LocalInfluxDB, tmp_path: Path
) -> None:
    plant_file = _plant_file(tmp_path)
    db = f"demo_{uuid.uuid4().hex[:8]}"
    # 100 simulated minutes at 200x (30 s), then real time: enough for the X̄-R limits (25
    # subgroups of 5 parts at ~40 s a part), the PdM baseline (40 windows of 30 s after a
    # 300 s window) and live energy rollups.
    result = _twin(["demo", "--duration", "40", "--backfill", "100", "--speed", "200", "--plant", str(plant_file)],
                   {"TWIN_MQTT_URL": mosquitto.url, "TWIN_INFLUX_URL": influxdb_server.url,
                    "TWIN_INFLUX_DB": db, "TWIN_STATE_DIR": str(tmp_path / "state")}, timeout_s=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "started local" not in result.stdout  # it used the servers it was given
    assert "analytics: spc, pdm, energy" in result.stdout

    def query(q: str) -> dict[tuple[str, ...], int]:
        resp = httpx.get(f"{influxdb_server.url}/query", params={"db": db, "q": q})
        series = resp.json()["results"][0].get("series", [])
        return {tuple(s["tags"].values()): s["values"][0][1] for s in series}

    counts = query('SELECT count("quality") FROM "telemetry" GROUP BY "asset", "signal"')
    expected = {(sig.asset.asset, sig.name) for sig in load_plant(plant_file).signals()}
    assert set(counts) == expected
    assert all(n >= 1 for n in counts.values())
    assert counts[("cnc-01", "spindle_temp")] >= 100  # 100 simulated minutes, changes every few seconds
    # Every analytic wrote its results for the assets the plant file configures it on.
    assert set(query('SELECT count("value") FROM "spc" GROUP BY "characteristic"')) == {
        ("bore_diameter_mm",), ("length_mm",)}
    assert set(query('SELECT count("health_index") FROM "health" GROUP BY "asset"')) == {("cnc-01",)}
    assert set(query('SELECT count("energy_kwh") FROM "energy" GROUP BY "asset", "period"')) == {
        ("cnc-01", "day"), ("cnc-01", "hour")}


def test_demo_starts_its_own_servers_and_stops_after_duration(tmp_path: Path) -> None:
    plant_file = _plant_file(tmp_path)
    state = tmp_path / "state"
    result = _twin(["demo", "--duration", "5", "--plant", str(plant_file)], {"TWIN_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr + result.stdout
    assert "started local Mosquitto" in result.stdout and "started local InfluxDB" in result.stdout
    assert "meter-cnc-01/energy_kwh" in result.stdout  # the closing per-signal table
    assert (state / "demo" / "influxdb" / "influxdb-data").is_dir()
    assert (state / "edge-1.queue.sqlite").is_file()


def test_demo_refuses_a_bad_plant_file_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsite: x\nareas: {a: {lines: {l: {assets: {m: {signals: {s: {unit: V}}}}}}}}\n")
    result = _twin(["demo", "--duration", "1", "--plant", str(bad)], {"TWIN_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "areas.a.lines.l.assets.m.signals.s: needs exactly one source binding" in result.stderr
    assert "Traceback" not in result.stderr
