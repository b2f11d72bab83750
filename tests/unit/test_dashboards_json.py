"""The committed dashboard JSON is exactly what the generator makes, and it fits the provisioning files."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from dashboards.build import FOLDER_UID, JSON_DIR, build_all, rendered, targets
from dashboards.cli import dashboards
from dashboards.panels import DATASOURCE_UID

PROVISIONING = Path(__file__).resolve().parents[2] / "dashboards" / "provisioning"


def test_committed_json_equals_what_the_generator_produces() -> None:
    expected = rendered()
    committed = {p.name: p.read_text(encoding="utf-8") for p in JSON_DIR.glob("*.json")}
    assert sorted(committed) == sorted(expected), "run `twin dashboards generate` and commit dashboards/json"
    stale = [name for name, text in expected.items() if committed[name] != text]
    assert not stale, f"dashboards/json is stale for {stale}: run `twin dashboards generate` and commit"


def test_generate_command_writes_the_same_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(dashboards, ["generate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")}
    assert written == rendered()


def test_uids_are_stable_unique_and_panels_numbered() -> None:
    boards = [json.loads(text) for text in rendered().values()]
    assert [b["uid"] for b in boards] == ["ft-plant-overview", "ft-machine-detail", "ft-spc", "ft-energy",
                                         "ft-pipeline"]
    for board in boards:
        assert "id" not in board
        ids = [p["id"] for p in board["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        assert all(p["type"] == "row" or isinstance(p["options"], dict) for p in board["panels"])


def test_every_target_is_raw_influxql_on_the_provisioned_data_source() -> None:
    found = list(targets(build_all()))
    assert len(found) >= 40
    for t in found:
        body = t.query.to_json()
        assert body["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}
        assert body["rawQuery"] is True and body["resultFormat"] in ("time_series", "table")
        assert "$timeFilter" in t.query.query, f"{t.panel_title}: a panel query without the time filter"
        assert t.query.expect.columns[0] == "time"


def test_every_dashboard_has_chained_hierarchy_variables() -> None:
    for board in (json.loads(text) for text in rendered().values()):
        names = [v["name"] for v in board["templating"]["list"]]
        assert names[:4] == ["site", "area", "line", "asset"], board["uid"]
        queries = {v["name"]: v["query"] for v in board["templating"]["list"]}
        assert queries["site"].startswith("SHOW TAG VALUES FROM")
        assert "$site" in queries["area"] and "$area" in queries["line"] and "$line" in queries["asset"]
    spc = json.loads(rendered()["ft-spc.json"])
    characteristic = next(v for v in spc["templating"]["list"] if v["name"] == "characteristic")
    assert "$asset" in characteristic["query"]
    assert any(p.get("repeat") == "characteristic" for p in spc["panels"])


def test_provisioning_files_point_at_the_same_data_source_and_folder() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())["datasources"][0]
    assert ds["uid"] == DATASOURCE_UID and ds["type"] == "influxdb"
    assert ds["url"] == "${TWIN_INFLUX_URL}" and ds["jsonData"]["dbName"] == "${TWIN_INFLUX_DB}"
    assert ds["jsonData"]["version"] == "InfluxQL"
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "factory-twin.yaml").read_text())["providers"][0]
    assert provider["folderUid"] == FOLDER_UID and provider["type"] == "file"
    assert provider["options"]["path"]
