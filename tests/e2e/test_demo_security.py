"""`twin demo` with its own broker: accounts per role, anonymous refused, and the pipeline still flows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_demo import _plant_file, _twin
from twin.plant import load_plant

pytestmark = pytest.mark.integration


def test_demo_broker_has_an_account_per_role_and_every_signal_still_arrives(tmp_path: Path) -> None:
    plant_file = _plant_file(tmp_path)
    state = tmp_path / "state"
    result = _twin(["demo", "--duration", "12", "--plant", str(plant_file)], {"TWIN_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr + result.stdout
    accounts = state / "demo" / "mqtt-accounts"
    assert accounts.stat().st_mode & 0o777 == 0o600
    passwords = [line.split(":", 1)[1] for line in accounts.read_text().splitlines()]
    assert {line.split(":", 1)[0] for line in accounts.read_text().splitlines()} == {
        "edge", "ingest", "analytics", "alerts", "device"}
    assert all(pw and pw not in result.stdout + result.stderr for pw in passwords)
    conf = (state / "demo" / "mosquitto" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "password_file" in conf and "acl_file" in conf
    for name in ("mosquitto.passwd", "mosquitto.acl"):
        assert (state / "demo" / "mosquitto" / name).stat().st_mode & 0o777 == 0o600
    # The closing table: every signal of the plant reached InfluxDB through the role accounts.
    points = {m[1]: int(m[2]) for m in re.finditer(r"│ (\S+/\S+)\s+│\s+(\d+) │", result.stdout)}
    expected = {f"{sig.asset.asset}/{sig.name}" for sig in load_plant(plant_file).signals()}
    assert set(points) == expected, result.stdout
    # Device topics (device account → edge → ingest) and OPC UA (edge → ingest) both flowed.
    # Parts come every ~40 s, too rarely for 12 s; test_demo.py covers them on given servers.
    flowing = [k for k in expected if k.startswith("meter-cnc-01/")] + ["cnc-01/spindle_temp", "cnc-01/power_kw"]
    assert all(points[k] >= 1 for k in flowing), points
