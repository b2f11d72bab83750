"""`twin spc limits list|show|set|reset`: what a quality engineer sees and changes, and the audit trail it leaves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from analytics.spc.cli import spc
from analytics.spc.service import build_spc
from analytics.spc.store import LimitsKey, LimitsStore, limits_path
from tests.helpers import EXAMPLE_PLANT, example_plant
from tests.unit.spc.test_service import gauge_readings

BORE = "gauge-cnc-01/bore_diameter_mm"
LENGTH = "gauge-cnc-01/length_mm"
ASSET = "demo-plant/machining/line-1/gauge-cnc-01"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def twin(state_dir: Path, *args: str, plant: Path = EXAMPLE_PLANT) -> Result:
    return CliRunner().invoke(spc, ["limits", *args], env={"TWIN_STATE_DIR": str(state_dir),
                                                           "TWIN_PLANT_FILE": str(plant), "COLUMNS": "200"})


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_the_services_estimate_is_listed_and_shown_with_its_data(state_dir: Path) -> None:
    analytic = build_spc(example_plant(), limits=LimitsStore(limits_path(state_dir)), actor="twin spc run")
    assert analytic is not None
    analytic.process(gauge_readings(40))  # length_mm: Phase I on the first 25 parts; the bore is still collecting
    rows = {r["characteristic"]: r for r in as_json(twin(state_dir, "list", "--json"))}
    assert rows[LENGTH]["status"] == "estimated" and rows[LENGTH]["by"] == "twin spc run"
    assert rows[LENGTH]["lcl"] < rows[LENGTH]["cl"] < rows[LENGTH]["ucl"]
    assert rows[BORE]["status"] == "none yet (Phase I)" and rows[BORE]["cl"] is None
    shown = as_json(twin(state_dir, "show", LENGTH, "--json"))
    limits = shown["limits"]["limits"]
    assert limits["source"] == "estimated" and limits["samples"] == 25 and limits["chart"] == "imr"
    assert limits["first_ts"] == "2026-11-26T08:00:00+00:00" and limits["last_ts"] == "2026-11-26T08:16:00+00:00"
    assert [h["action"] for h in shown["history"]] == ["estimated"]
    assert "Phase I on 25 chart points" in shown["history"][0]["reason"]
    text = twin(state_dir, "show", LENGTH)
    assert text.exit_code == 0 and "Phase I on 25 points (25 measurements)" in text.stdout


def test_set_and_reset_are_recorded_with_who_when_and_why(state_dir: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    r = twin(state_dir, "set", BORE, "--center", "20.0", "--sigma", "0.003", "--by", "J. Wang", "--reason", "MSA")
    assert r.exit_code == 0 and "revision 1" in r.stdout
    r = twin(state_dir, "set", LENGTH, "--cl", "50", "--ucl", "50.03", "--lcl", "49.97", "--by", "J. Wang",
             "--reason", "customer drawing rev C")
    assert r.exit_code == 0, r.output
    r = twin(state_dir, "set", LENGTH, "--sigma", "0.02", "--by", "K. Li", "--reason", "wider after MSA")
    assert r.exit_code == 0, r.output

    bore = as_json(twin(state_dir, "show", BORE, "--json"))["limits"]
    assert bore["action"] == "set" and bore["by"] == "J. Wang" and bore["limits"]["source"] == "manual"
    # X̄ of n = 5: 20 ± 3 · 0.003/√5
    assert bore["limits"]["ucl"] == pytest.approx(20.0 + 3 * 0.003 / 5 ** 0.5)
    shown = as_json(twin(state_dir, "show", LENGTH, "--json"))
    assert shown["limits"]["limits"]["center"] == 50.0 and shown["limits"]["limits"]["sigma"] == 0.02
    assert shown["in_force"] == {"cl": 50.0, "lcl": pytest.approx(49.94), "ucl": pytest.approx(50.06)}

    r = twin(state_dir, "reset", LENGTH, "--by", "K. Li", "--reason", "new spindle: re-baseline")
    assert r.exit_code == 0 and "new Phase I" in r.stdout
    history = as_json(twin(state_dir, "show", LENGTH, "--json"))["history"]
    assert [(h["action"], h["by"], h["reason"]) for h in history] == [
        ("set", "J. Wang", "customer drawing rev C"), ("set", "K. Li", "wider after MSA"),
        ("reset", "K. Li", "new spindle: re-baseline")]
    assert history[0]["limits"]["sigma"] == pytest.approx(0.01)  # (50.03 − 49.97) / (2 · 3)
    assert history[2]["limits"] is None
    assert all(before <= datetime.fromisoformat(h["at"]) <= datetime.now(UTC) for h in history)
    assert as_json(twin(state_dir, "show", LENGTH, "--json"))["limits"] is None
    rows = {r["characteristic"]: r for r in as_json(twin(state_dir, "list", "--json"))}
    assert rows[LENGTH]["status"] == "none yet (Phase I)" and rows[BORE]["status"] == "manual"
    listed = twin(state_dir, "list")
    assert listed.exit_code == 0 and "J. Wang" in listed.stdout

    # The trail cannot be edited behind the CLI's back.
    db = sqlite3.connect(limits_path(state_dir))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE history SET by = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM history")
    db.close()


def test_a_service_started_after_set_charts_against_the_engineers_limits(state_dir: Path) -> None:
    r = twin(state_dir, "set", LENGTH, "--cl", "50", "--ucl", "50.03", "--lcl", "49.97", "--by", "J. Wang",
             "--reason", "customer drawing")
    assert r.exit_code == 0, r.output
    analytic = build_spc(example_plant(), limits=LimitsStore(limits_path(state_dir)))
    assert analytic is not None
    lines = [ln for ln in analytic.process(gauge_readings(3)).lines if "characteristic=length_mm" in ln]
    assert len(lines) == 3 and all("ucl=50.03" in ln and "lcl=49.97" in ln for ln in lines)


def plant_with_known_length(tmp_path: Path) -> Path:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    sig = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]["signals"]["length_mm"]
    sig["spc"].update(center=50.0, sigma=0.01)
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["show", "gauge-cnc-01/nope"], "unknown characteristic 'gauge-cnc-01/nope'"),
    (["show", "bore_diameter_mm"], "give ASSET/SIGNAL"),
    (["show", BORE, "--product", "P-200"], "names no product"),
    (["reset", BORE, "--by", "x", "--reason", "y"], "no limits stored, nothing to reset"),
    (["set", BORE, "--center", "20", "--by", "x", "--reason", "y"], "give both --center and --sigma"),
    (["set", BORE, "--by", "x", "--reason", "y"], "give the limits"),
    (["set", BORE, "--center", "20", "--sigma", "0", "--by", "x", "--reason", "y"], "--sigma must be > 0"),
    (["set", BORE, "--center", "20", "--cl", "20", "--by", "x", "--reason", "y"], "not both"),
    (["set", BORE, "--cl", "20", "--ucl", "20.01", "--by", "x", "--reason", "y"], "all three"),
    (["set", BORE, "--cl", "20", "--ucl", "20.01", "--lcl", "19.9", "--by", "x", "--reason", "y"], "symmetric"),
    (["set", BORE, "--cl", "20", "--ucl", "19.9", "--lcl", "20.1", "--by", "x", "--reason", "y"], "LCL < CL < UCL"),
    (["set", BORE, "--center", "nan", "--sigma", "1", "--by", "x", "--reason", "y"], "finite"),
    (["set", BORE, "--center", "20", "--sigma", "1", "--by", " ", "--reason", "y"], "who makes it"),
    (["set", BORE, "--center", "20", "--sigma", "1", "--by", "x", "--reason", ""], "needs a reason"),
    (["set", LENGTH, "--center", "50", "--sigma", "1", "--by", "x", "--reason", "y"], "come from the plant file"),
])
def test_mistakes_are_one_line_errors_naming_the_cause(state_dir: Path, tmp_path: Path, args: list[str],
                                                        message: str) -> None:
    line = one_line_error(twin(state_dir, *args, plant=plant_with_known_length(tmp_path)))
    assert message in line
    assert LimitsStore(limits_path(state_dir)).history() == []  # nothing recorded


def test_by_and_reason_are_required_options(state_dir: Path) -> None:
    r = twin(state_dir, "set", BORE, "--center", "20", "--sigma", "0.003", "--reason", "y")
    assert r.exit_code == 2 and "Missing option '--by'" in r.stderr
    r = twin(state_dir, "reset", BORE, "--by", "x")
    assert r.exit_code == 2 and "Missing option '--reason'" in r.stderr


def test_an_unreadable_limits_file_is_a_one_line_error(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    limits_path(state_dir).write_bytes(b"this is not a database" * 100)
    assert "SPC limits file" in one_line_error(twin(state_dir, "list"))


def test_limits_of_a_product_are_kept_apart(state_dir: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    gauge = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]
    gauge["signals"]["product"] = {"mqtt": {"topic": "devices/gauges/cnc-01", "path": "$.product"}}
    gauge["product_signal"] = "product"
    plant = tmp_path / "plant.yaml"
    plant.write_text(yaml.safe_dump(raw))
    r = twin(state_dir, "set", LENGTH, "--product", "P-200", "--center", "50.1", "--sigma", "0.01", "--by", "x",
             "--reason", "y", plant=plant)
    assert r.exit_code == 0, r.output
    store = LimitsStore(limits_path(state_dir))
    assert store.get(LimitsKey(ASSET, "length_mm", "P-200")) is not None
    assert store.get(LimitsKey(ASSET, "length_mm")) is None
    rows = as_json(twin(state_dir, "list", "--json", plant=plant))
    assert [(r["characteristic"], r["product"], r["status"]) for r in rows if r["characteristic"] == LENGTH] == [
        (LENGTH, "P-200", "manual"), (LENGTH, None, "none yet (Phase I)")]
