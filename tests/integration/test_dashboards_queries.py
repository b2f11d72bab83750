"""Every panel of every committed dashboard shows data: its query, run on a real InfluxDB, returns what the panel reads.

Grafana cannot be installed here (DESIGN.md §7), so the test does what Grafana would:
it loads dashboards/json/*.json, resolves the template variables by running their
`SHOW TAG VALUES` queries in order (each chained on the ones before, "All" selected for
multi-value variables, one machine for the single-value `asset` of Machine detail),
substitutes `$timeFilter`, `$__interval` and the variables with dashboards.interpolate
(the rules are documented there), and runs each target against InfluxDB 1.6. Repeated
panels (one control chart per characteristic) are run once per characteristic, with the
variable narrowed to that value as Grafana does for each repeated copy.

Every measurement comes from the project's own code, nothing is written by hand:

- `telemetry` and `pipeline`: the real pipeline (simulated plant → edge agent →
  Mosquitto → ingest → InfluxDB) running for a few seconds.
- a history of the example plant (examples/plant.yaml) ending now: `PlantEngine` steps
  HISTORY of simulated time (no I/O, seconds of wall time); each frame becomes readings
  as the edge agent would make them (the gauge's one document per part), written as
  `telemetry` and fed, in batches, to the analytics `analytics.catalog.build_analytics`
  builds (SPC, PdM, energy), whose points (`spc`, `capability`, `health`, `energy`) are
  written as they come. Their alert events, and those of the plant's threshold rules,
  go through the alert manager (`AlertManager` on a temporary SQLite store, its clock on
  simulated time) whose transitions become `alerts` points through `Annotations`, as in
  `AlertService`; one alert is acknowledged, as a person would through the API.

HISTORY is long enough for every panel to have data: SPC limits after 25 subgroups of 5
parts (about 1.4 h at the simulated cycle time), PdM baselines per part program (40
windows of 300 s every 30 s), and the energy baseline, fitted over the first 8 complete
hours (analytics/energy/config.py `reference_hours`), so the hours after it carry
`expected_kwh` and `deviation_pct`. A spindle-bearing wear fault on cnc-01 starts after
the baselines are learnt, so health leaves `normal` and a remaining-useful-life estimate
exists.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.alerts.annotations import Annotations
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import AlertState
from analytics.alerts.sources import ThresholdRules
from analytics.alerts.store import AlertStore
from analytics.catalog import build_analytics
from dashboards.build import JSON_DIR, build_all, targets
from dashboards.interpolate import TimeRange, Variable, interpolate
from dashboards.panels import Expect
from edge_agent import EdgeAgent, EdgeOptions
from ingest import Ingest, IngestOptions
from ingest.schema import fast_telemetry_lines
from simulators.engine import Frame, PlantEngine
from simulators.plant_sim import PlantSimulator
from simulators.scenario import parse_scenario
from tests.helpers import eventually, example_plant, running
from twin.events import AlertEvent
from twin.influx import InfluxDB, Series
from twin.mqtt import MqttClient
from twin.readings import Quality, Reading
from twin.settings import MqttEndpoint, Settings
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

# Single-value variables get this value (it must be among the variable's options).
CHOSEN = {"asset": "cnc-01"}

# Simulated history, ending now: a first partial hour, the 8 complete hours the energy
# baseline is fitted over, then the hour(s) it is applied to (see the module docstring).
HISTORY = timedelta(hours=9, minutes=40)
TICK_S = 1.0
BATCH = timedelta(minutes=10)  # simulated time per batch of readings given to the analytics
WRITE_LINES = 20_000  # points per InfluxDB write request
# Starts after the PdM baselines are learnt; fails after the history ends.
SCENARIO = {"name": "dashboards", "description": "cnc-01 spindle bearing wears from 3 h",
            "faults": [{"kind": "bearing_wear", "asset": "cnc-01", "onset": "3h", "failure": "12h"}]}


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
    written = await simulate_history(influx, tmp_path, end=datetime.now(UTC))
    assert {"telemetry", "spc", "capability", "health", "energy", "alerts"} <= set(written), written
    now = datetime.now(UTC)

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
    assert runs == len(expectations) + repeated * (len(options["ft-spc"]["characteristic"]) - 1)
    # The chained variables saw the plant's hierarchy, each from the measurement it reads:
    # telemetry has every asset; SPC only the gauge with `spc:` characteristics; energy only
    # the machine the meter's `meters:` link charges.
    assert options["ft-plant-overview"]["site"] == ("demo-plant",)
    assert options["ft-plant-overview"]["asset"] == ("cnc-01", "gauge-cnc-01", "meter-cnc-01")
    assert options["ft-spc"]["asset"] == ("gauge-cnc-01",)
    assert options["ft-spc"]["characteristic"] == ("bore_diameter_mm", "length_mm")
    assert options["ft-energy"]["asset"] == ("cnc-01",)
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


async def simulate_history(influx: InfluxDB, tmp_path: Path, *, end: datetime) -> Counter[str]:
    """Simulate HISTORY of the example plant up to `end` through the analytics and the alert manager into InfluxDB.

    Returns the number of points written per measurement.
    """
    plant = example_plant()
    engine = PlantEngine(plant, scenario=parse_scenario(SCENARIO), seed=1, tick_s=TICK_S, start=end - HISTORY)
    analytics = build_analytics(plant, Settings(state_dir=tmp_path / "state"))
    assert [a.name for a in analytics] == ["spc", "pdm", "energy"]
    thresholds = ThresholdRules(list(plant.alerts.rules))  # what AlertService evaluates on telemetry
    gauges = {path for path, asset in plant.assets() if asset.type == "gauge"}
    written: Counter[str] = Counter()

    async def write(lines: list[str]) -> None:
        for i in range(0, len(lines), WRITE_LINES):
            await influx.write(lines[i:i + WRITE_LINES])
        written.update(line.split(",", 1)[0] for line in lines)

    # The manager's clock follows simulated time, as it would run alongside the plant live.
    clock = [engine.start]
    with AlertStore(tmp_path / "alerts.sqlite") as store:
        manager = AlertManager(store, plant.alerts, clock=lambda: clock[0])
        annotations = Annotations()
        ticks, per_batch = round(HISTORY / timedelta(seconds=TICK_S)), round(BATCH / timedelta(seconds=TICK_S))
        for done in range(0, ticks, per_batch):
            readings: list[Reading] = []
            for _ in range(min(per_batch, ticks - done)):
                readings.extend(frame_readings(engine.step(), gauges))
            lines = fast_telemetry_lines(readings)  # what ingest writes (= ingest.schema.telemetry_lines)
            events: list[AlertEvent] = []
            for analytic in analytics:
                out = analytic.process([r for r in readings if analytic.wants(r)])
                lines.extend(out.lines)
                events.extend(out.events)
            events.extend(e for r in readings if thresholds.wants(r) for e in thresholds.update(r))
            for event in sorted(events, key=lambda e: e.ts):
                clock[0] = max(clock[0], event.ts)
                manager.ingest(event)
            clock[0] = engine.ts(engine.t_s)
            manager.tick()
            # At the end someone acknowledges the machine's firing alert (the API's ack): the
            # bearing's health alarm, so Machine detail's last 6 h have alert events of a person.
            if done + per_batch >= ticks:
                firing = [a for a in manager.open_alerts
                          if a.state is AlertState.FIRING and a.asset.asset == CHOSEN["asset"]]
                assert firing, f"no alert of {CHOSEN['asset']} is firing at the end of the history"
                manager.acknowledge(firing[0].id, "li.wei", "looking at it")
            while manager.transitions:
                lines.append(annotations.line(manager.transitions.popleft()))
            await write(lines)
    return written


def frame_readings(frame: Frame, gauges: set[AssetPath]) -> Iterator[Reading]:
    """A frame as the edge agent reads it: every signal of every asset, a gauge's readings per measured part."""
    for path, values in frame.values.items():
        if path in gauges or path in frame.offline:
            continue  # a gauge publishes one document per part, not per tick
        for signal, value in values.items():
            status = frame.status.get((path, signal))
            yield Reading(path, signal, frame.ts, value, Quality.GOOD if status is None else Quality.BAD, status)
    for part in frame.parts:
        if part.asset in frame.offline:
            continue
        for signal, value in part.values.items():
            status = part.status.get(signal)
            yield Reading(part.asset, signal, part.ts, value, Quality.GOOD if status is None else Quality.BAD,
                          status)


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
        # InfluxQL accepts GROUP BY a key that is no tag (e.g. a field) and groups by "" instead.
        if empty := sorted(k for k, v in s.tags.items() if v == ""):
            problems.append(f"series grouped by {empty}, which have no tag value (fields, or tags never written?)")
        if not s.values:
            problems.append(f"series {s.tags} has no rows")
    for index, column in enumerate(expect.columns[1:], start=1):
        if not any(len(row) > index and row[index] not in (None, "") for s in series for row in s.values):
            problems.append(f"column {column!r} is null or empty in every row")
    return problems
