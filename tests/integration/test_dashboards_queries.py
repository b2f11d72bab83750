"""Every panel of every committed dashboard shows data: its query, run on a real InfluxDB, returns what the panel reads.

Grafana cannot be installed here (DESIGN.md §7), so the test does what Grafana would:
it loads dashboards/json/*.json, resolves the template variables by running their
`SHOW TAG VALUES` queries in order (each chained on the ones before, "All" selected for
multi-value variables, one machine for the single-value `asset` of Machine detail),
substitutes `$timeFilter`, `$__interval` and the variables with dashboards.interpolate
(the rules are documented there), and runs each target against InfluxDB 1.6. Repeated
panels (one control chart per characteristic) are run once per characteristic, with the
variable narrowed to that value as Grafana does for each repeated copy.

The data: `telemetry` and `pipeline` come from the real pipeline (simulated plant → edge
agent → Mosquitto → ingest → InfluxDB) running for a few seconds; `spc`, `capability`,
`health`, `energy` and `alerts` come from tests/schema_data.py (docs/schema.md) until
their services exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import JSON_DIR, build_all, targets
from dashboards.interpolate import TimeRange, Variable, interpolate
from dashboards.panels import Expect
from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest, IngestOptions
from simulators.plant_sim import PlantSimulator
from tests import schema_data
from tests.helpers import eventually, example_plant, running
from twin.influx import InfluxDB, Series
from twin.mqtt import MqttClient
from twin.settings import MqttEndpoint

pytestmark = pytest.mark.integration

# Single-value variables get this value (it must be among the variable's options).
CHOSEN = {"asset": "cnc-01"}


@dataclass(frozen=True, slots=True)
class Run:
    """One query as Grafana would send it for one (possibly repeated) panel."""

    where: str
    query: str
    expect: Expect


async def test_every_panel_query_returns_the_series_and_columns_its_panel_expects(
    mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path
) -> None:
    await run_pipeline(mqtt_endpoint, influx, tmp_path)
    now = datetime.now(UTC)
    await influx.write(schema_data.all_lines(now))

    boards = {p.stem: json.loads(p.read_text()) for p in sorted(JSON_DIR.glob("*.json"))}
    expectations = {(t.dashboard_uid, t.panel_id, t.query.ref_id): t.query for t in targets(build_all())}
    assert set(boards) == {"ft-plant-overview", "ft-machine-detail", "ft-spc", "ft-energy", "ft-pipeline"}

    failures: list[str] = []
    runs = 0
    options: dict[str, dict[str, tuple[str, ...]]] = {}
    for uid, board in boards.items():
        variables, options[uid] = await resolve_variables(influx, board, now)
        for run in panel_runs(board, variables, expectations, now):
            runs += 1
            series = await influx.query(run.query, epoch="ms")
            failures.extend(f"{run.where}: {problem}\n  query: {run.query}"
                            for problem in check(series, run.expect))

    assert not failures, f"{len(failures)} panel queries do not give their panels data:\n" + "\n".join(failures)
    # Every target of the generator ran, repeated panels once per characteristic.
    repeated = sum(1 for t in targets(build_all()) if t.repeat)
    assert runs == len(expectations) + repeated * (len(schema_data.CHARACTERISTICS) - 1)
    # The chained variables saw the plant's hierarchy.
    assert options["ft-plant-overview"]["site"] == ("demo-plant",)
    assert options["ft-plant-overview"]["asset"] == ("cnc-01", "meter-cnc-01")
    assert options["ft-spc"]["characteristic"] == tuple(sorted(schema_data.CHARACTERISTICS))
    assert options["ft-energy"]["asset"] == ("cnc-01", "meter-cnc-01")
    assert "spindle_speed" in options["ft-machine-detail"]["signal"]


async def run_pipeline(mqtt_endpoint: MqttEndpoint, influx: InfluxDB, tmp_path: Path) -> None:
    """Run the simulated plant through edge agent and ingest until telemetry and pipeline health are stored."""
    plant = example_plant()
    edge = EdgeAgent(plant, mqtt_endpoint=mqtt_endpoint, options=EdgeOptions(
        queue_path=tmp_path / "edge.sqlite", linger_s=0.05, status_interval_s=0.5))
    ingest = Ingest(mqtt_endpoint=mqtt_endpoint, influx=influx, options=IngestOptions(metrics_interval_s=0.5))
    async with MqttClient(endpoint=mqtt_endpoint, client_id="sim-devices") as devices:
        async with PlantSimulator(plant, mqtt=devices, tick_s=0.1) as sim:
            async with running(edge.run(), ingest.run()):
                await edge.wait_ready(20)
                await ingest.ready.wait()
                await sim.run(ticks=30)

                async def enough_health_points() -> bool:
                    # Rates need several ingest samples in distinct 1 s buckets (the
                    # pipeline dashboard's $__interval), edge status at least twice.
                    ingest_rows = await influx.query(
                        "SELECT count(\"points_total\") FROM \"pipeline\" WHERE \"component\" = 'ingest'")
                    edge_rows = await influx.query(
                        "SELECT count(\"queue_depth\") FROM \"pipeline\" WHERE \"component\" = 'edge'")
                    return (bool(ingest_rows) and ingest_rows[0].values[0][1] >= 6
                            and bool(edge_rows) and edge_rows[0].values[0][1] >= 2)

                await eventually(enough_health_points, timeout_s=20)


async def resolve_variables(influx: InfluxDB, board: dict[str, Any], now: datetime
                            ) -> tuple[dict[str, Variable], dict[str, tuple[str, ...]]]:
    """Run each variable's query in order, as Grafana does on load; All for multi, CHOSEN for single."""
    time_range = TimeRange(board["time"]["from"], board["time"]["to"])
    resolved: dict[str, Variable] = {}
    offered: dict[str, tuple[str, ...]] = {}
    for var in board["templating"]["list"]:
        query = interpolate(var["query"], variables=resolved, time_range=time_range, now=now)
        values = tuple(row[1] for s in await influx.query(query) for row in s.values)
        assert values, f"{board['uid']}: variable {var['name']} has no values; query: {query}"
        offered[var["name"]] = values
        if var.get("multi") or var.get("includeAll"):
            resolved[var["name"]] = Variable(values, regex=True)  # "All"
        else:
            chosen = CHOSEN.get(var["name"], values[0])
            assert chosen in values, f"{board['uid']}: {chosen!r} not offered by variable {var['name']}: {values}"
            resolved[var["name"]] = Variable((chosen,), regex=False)
    return resolved, offered


def panel_runs(board: dict[str, Any], variables: dict[str, Variable],
               expectations: dict[tuple[str, int, str], Any], now: datetime) -> Iterator[Run]:
    """Every query of every panel, interpolated; a repeated panel once per value of its variable."""
    dashboard_range = TimeRange(board["time"]["from"], board["time"]["to"])
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        time_range = panel_time_range(panel, dashboard_range)
        repeat = panel.get("repeat")
        copies = ([{**variables, repeat: Variable((v,), regex=True)} for v in variables[repeat].values]
                  if repeat else [variables])
        for copy_vars in copies:
            for target in panel["targets"]:
                key = (board["uid"], panel["id"], target["refId"])
                assert key in expectations, f"{key}: the committed JSON has a target the generator does not"
                model = expectations[key]
                assert target["query"] == model.query, f"{key}: committed query differs from the generator's"
                assert target["datasource"]["uid"] == "factory-twin-influxdb" and target["rawQuery"] is True
                query = interpolate(target["query"], variables=copy_vars, time_range=time_range, now=now,
                                    max_data_points=panel.get("maxDataPoints", 1000),
                                    min_interval=panel.get("interval"))
                label = f"{board['uid']} / {panel['title']} / {target['refId']}"
                if repeat:
                    label += f" [{repeat}={copy_vars[repeat].values[0]}]"
                yield Run(label, query, model.expect)


def panel_time_range(panel: dict[str, Any], dashboard_range: TimeRange) -> TimeRange:
    """A panel's relative time overrides the dashboard's: `now/d` is today, `24h` is the last 24 hours."""
    time_from = panel.get("timeFrom")
    if not time_from:
        return dashboard_range
    if time_from.startswith("now"):
        return TimeRange(time_from, time_from)
    return TimeRange(f"now-{time_from}", "now")


def check(series: list[Series], expect: Expect) -> list[str]:
    """What is wrong with a result for a panel that expects `expect`; empty when nothing is."""
    if not series:
        return ["no series (the panel would say 'No data')"]
    problems = []
    for s in series:
        if tuple(s.columns) != expect.columns:
            problems.append(f"columns {s.columns}, expected {list(expect.columns)}")
        if set(s.tags) != set(expect.group_by):
            problems.append(f"series tags {sorted(s.tags)}, expected {sorted(expect.group_by)}")
        if not s.values:
            problems.append(f"series {s.tags} has no rows")
    for index, column in enumerate(expect.columns[1:], start=1):
        if not any(len(row) > index and row[index] is not None for s in series for row in s.values):
            problems.append(f"column {column!r} is null in every row")
    return problems
