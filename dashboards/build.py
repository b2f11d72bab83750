"""The factory-twin Grafana dashboards, defined as code, and their JSON rendering.

Five dashboards, one folder, stable uids (so provisioning and `push` overwrite instead
of duplicating). Each query follows docs/schema.md, the contract the services write to.
`generate()` writes one JSON file per dashboard to dashboards/json/; the committed
files must equal what this module produces (tests/unit/test_dashboards_json.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models

from dashboards.panels import (
    InfluxQL,
    InfluxQLQuery,
    hierarchy,
    hierarchy_variables,
    stat_panel,
    state_timeline_panel,
    table_panel,
    tag_variable,
    timeseries_panel,
)

log = logging.getLogger(__name__)

FOLDER_UID = "factory-twin"
FOLDER_TITLE = "Factory twin"
JSON_DIR = Path(__file__).resolve().parent / "json"
TAGS = ["factory-twin"]

MACHINE_STATE_COLOURS = {"running": "green", "idle": "yellow", "setup": "blue", "alarm": "red",
                         "stopped": "red", "offline": "gray"}
HEALTH_STATE_COLOURS = {"normal": "green", "warning": "orange", "alarm": "red"}
HEALTH_THRESHOLDS = [(None, "red"), (50.0, "orange"), (80.0, "green")]


def _base(uid: str, title: str, description: str, *, time_from: str, refresh: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title).uid(uid).description(description).tags(TAGS)
        .time(time_from, "now").refresh(refresh).timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
    )


def plant_overview() -> dash.Dashboard:
    """Machine states, open alerts, health and today's energy for the selected part of the plant."""
    where = hierarchy()
    # The alert manager writes `source` as a field (analytics/alerts/annotations.py), so it is
    # read with last(), not grouped by: GROUP BY a field silently groups by an empty tag.
    open_alerts = (
        'SELECT last("state") AS "state", last("message") AS "message", last("source") AS "source" FROM "alerts" '
        f"WHERE {where} AND $timeFilter GROUP BY \"asset\", \"kind\", \"severity\""
    )
    d = _base("ft-plant-overview", "Plant overview",
              "Machine states, open alerts, machine health and energy today.",
              time_from="now-24h", refresh="30s")
    for var in hierarchy_variables():
        d = d.with_variable(var)
    return (
        d.with_row(dash.Row("Machines"))
        .with_panel(state_timeline_panel(
            "Machine states", "The `state` signal of every machine over time.",
            InfluxQL(f"""SELECT last("text") AS "state" FROM "telemetry" WHERE {where} AND "signal" = 'state'
                     AND $timeFilter GROUP BY time($__interval), "asset" fill(none)""",
                     columns=["state"], group_by=["asset"], alias="$tag_asset"),
            colours=MACHINE_STATE_COLOURS, span=16))
        .with_panel(table_panel(
            "Current machine state", "Latest `state` reading per machine.",
            InfluxQL(f"""SELECT last("text") AS "state" FROM "telemetry" WHERE {where} AND "signal" = 'state'
                     AND $timeFilter GROUP BY "asset\"""",
                     columns=["state"], group_by=["asset"], result_format="table"),
            span=8, height=6))
        .with_panel(stat_panel(
            "Machine health", "Latest health index (0–100) per machine from predictive maintenance.",
            InfluxQL(f"""SELECT last("health_index") AS "health_index" FROM "health" WHERE {where}
                     AND $timeFilter GROUP BY "asset\"""",
                     columns=["health_index"], group_by=["asset"], alias="$tag_asset"),
            unit="none", span=12, decimals=0, thresholds=HEALTH_THRESHOLDS))
        .with_row(dash.Row("Alerts"))
        .with_panel(stat_panel(
            "Open alerts", "Alerts whose latest state is firing or acknowledged (not resolved).",
            # An alert's identity within an asset is approximated by its tags (kind, severity);
            # its latest state comes from last() per series, then resolved ones drop out.
            InfluxQL(f"""SELECT count("state") AS "open" FROM ({open_alerts}) WHERE "state" != 'resolved'""",
                     columns=["open"]),
            span=4, height=8, thresholds=[(None, "green"), (1.0, "red")]))
        .with_panel(table_panel(
            "Open alerts by machine", "Latest state and message of every alert that is not resolved.",
            InfluxQL(f"""SELECT * FROM ({open_alerts}) WHERE "state" != 'resolved'""",
                     columns=["asset", "kind", "message", "severity", "source", "state"],
                     result_format="table"),
            span=20))
        .with_row(dash.Row("Energy today"))
        .with_panel(_energy_today("Energy today", "energy_kwh", "kwatth"))
        .with_panel(_energy_today("Energy cost today", "cost_cny", "currencyCNY"))
        .with_panel(_energy_today("Carbon today", "co2e_kg", "masskg"))
    )


def _energy_today(title: str, field: str, unit: str) -> Any:
    return stat_panel(
        title, f"Sum of the hourly `{field}` rollups since midnight, per line.",
        InfluxQL(f"""SELECT sum("{field}") AS "{field}" FROM "energy" WHERE {hierarchy()} AND "period" = 'hour'
                 AND $timeFilter GROUP BY "line\"""",
                 columns=[field], group_by=["line"], alias="$tag_line"),
        unit=unit, span=8, decimals=1, time_from="now/d")


def machine_detail() -> dash.Dashboard:
    """One machine: its signals, health index, anomaly score, remaining useful life and alerts."""
    where = hierarchy(asset="single")
    d = _base("ft-machine-detail", "Machine detail",
              "Signals, health index, anomaly score, remaining useful life and alerts of one machine.",
              time_from="now-6h", refresh="30s")
    for var in hierarchy_variables(asset_multi=False):
        d = d.with_variable(var)
    d = d.with_variable(tag_variable("signal", "Signal", measurement="telemetry", where="\"asset\" = '$asset'"))
    signals = f'{where} AND "signal" =~ /^$signal$/'
    return (
        d.with_row(dash.Row("Signals"))
        .with_panel(timeseries_panel(
            "Signals", "Numeric signals of the machine (mean per interval).",
            InfluxQL(f"""SELECT mean("value") AS "value" FROM "telemetry" WHERE {signals} AND $timeFilter
                     GROUP BY time($__interval), "signal" fill(none)""",
                     columns=["value"], group_by=["signal"], alias="$tag_signal"),
            span=16, height=10))
        .with_panel(table_panel(
            "Latest readings", "Latest value (or text) and quality of each signal.",
            InfluxQL(f"""SELECT last("value") AS "value", last("text") AS "text", last("quality") AS "quality"
                     FROM "telemetry" WHERE {signals} AND $timeFilter GROUP BY "signal\"""",
                     columns=["value", "text", "quality"], group_by=["signal"], result_format="table"),
            span=8, height=10))
        .with_panel(state_timeline_panel(
            "Machine state", "The machine's `state` signal.",
            InfluxQL(f"""SELECT last("text") AS "state" FROM "telemetry" WHERE {where} AND "signal" = 'state'
                     AND $timeFilter GROUP BY time($__interval) fill(none)""", columns=["state"]),
            colours=MACHINE_STATE_COLOURS, height=4))
        .with_row(dash.Row("Health"))
        .with_panel(timeseries_panel(
            "Health index", "Health index from predictive maintenance: 100 is as new, 0 is failed.",
            InfluxQL(f"""SELECT mean("health_index") AS "health_index" FROM "health" WHERE {where}
                     AND $timeFilter GROUP BY time($__interval) fill(none)""", columns=["health_index"]),
            unit="none", span=8))
        .with_panel(timeseries_panel(
            "Anomaly score", "How unusual the machine's recent behaviour is compared with its learned normal.",
            InfluxQL(f"""SELECT max("anomaly_score") AS "anomaly_score" FROM "health" WHERE {where}
                     AND $timeFilter GROUP BY time($__interval) fill(none)""", columns=["anomaly_score"]),
            unit="none", span=8))
        .with_panel(stat_panel(
            "Remaining useful life", "Latest RUL estimate with its interval (hours).",
            InfluxQL(f"""SELECT last("rul_hours") AS "rul_hours", last("rul_low_hours") AS "rul_low_hours",
                     last("rul_high_hours") AS "rul_high_hours" FROM "health" WHERE {where} AND $timeFilter""",
                     columns=["rul_hours", "rul_low_hours", "rul_high_hours"]),
            unit="h", span=8, height=8, decimals=0))
        .with_panel(timeseries_panel(
            "Remaining useful life over time", "RUL estimate and its interval.",
            InfluxQL(f"""SELECT mean("rul_hours") AS "rul_hours", mean("rul_low_hours") AS "rul_low_hours",
                     mean("rul_high_hours") AS "rul_high_hours" FROM "health" WHERE {where} AND $timeFilter
                     GROUP BY time($__interval) fill(none)""",
                     columns=["rul_hours", "rul_low_hours", "rul_high_hours"]),
            unit="h", span=16))
        .with_panel(state_timeline_panel(
            "Health state", "normal / warning / alarm as decided by the PdM service.",
            InfluxQL(f"""SELECT last("state") AS "state" FROM "health" WHERE {where} AND $timeFilter
                     GROUP BY time($__interval) fill(none)""", columns=["state"]),
            colours=HEALTH_STATE_COLOURS, span=8, height=8))
        .with_row(dash.Row("Alerts"))
        .with_panel(table_panel(
            "Alert events", "Every alert event of the machine, newest first.",
            # `source` and `actor` (who: system or a user) are fields of the alert manager's points.
            InfluxQL(f"""SELECT "state", "message", "key", "source", "actor" AS "by" FROM "alerts" WHERE {where}
                     AND $timeFilter GROUP BY "kind", "severity" ORDER BY time DESC LIMIT 200""",
                     columns=["state", "message", "key", "source", "by"], group_by=["kind", "severity"],
                     result_format="table")))
    )


def spc() -> dash.Dashboard:
    """Control charts per characteristic with centre line, limits and rule violations; capability."""
    where = f'{hierarchy()} AND "characteristic" =~ /^$characteristic$/'
    d = _base("ft-spc", "SPC", "Control charts (centre line, control limits, rule violations) and process "
              "capability per quality characteristic.", time_from="now-24h", refresh="30s")
    # The hierarchy comes from `spc` itself, so only assets with characteristics are offered.
    for var in hierarchy_variables(measurement="spc"):
        d = d.with_variable(var)
    d = d.with_variable(tag_variable(
        "characteristic", "Characteristic", measurement="spc",
        where="\"site\" =~ /^$site$/ AND \"area\" =~ /^$area$/ AND \"line\" =~ /^$line$/ AND \"asset\" =~ /^$asset$/"))
    chart = timeseries_panel(
        "Control chart: $characteristic",
        "Plotted statistic with centre line (CL), upper and lower control limits (UCL, LCL); "
        "points that broke a Western Electric / Nelson rule are marked.",
        # Chart points are subgroup statistics, one per subgroup: plotted as written, never averaged.
        InfluxQL(f"""SELECT "value", "cl", "ucl", "lcl" FROM "spc" WHERE {where} AND $timeFilter
                 GROUP BY "asset", "chart\"""",
                 columns=["value", "cl", "ucl", "lcl"], group_by=["asset", "chart"], alias="$col"),
        InfluxQL(f"""SELECT "value" AS "rule_violation" FROM "spc" WHERE {where} AND "violations" > 0
                 AND $timeFilter GROUP BY "asset", "chart\"""",
                 columns=["rule_violation"], group_by=["asset", "chart"], alias="$col"),
        span=24, height=9)
    chart = chart.repeat("characteristic").repeat_direction("v").override_by_name(
        "rule_violation", [
            models.DynamicConfigValue(id_val="custom.drawStyle", value="points"),
            models.DynamicConfigValue(id_val="custom.pointSize", value=10),
            models.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"}),
        ])
    range_chart = timeseries_panel(
        "Range chart: $characteristic",
        "Second chart of a pair (R, S or moving range) with its centre line and limits.",
        InfluxQL(f"""SELECT "range_value", "range_cl", "range_ucl", "range_lcl" FROM "spc" WHERE {where}
                 AND $timeFilter GROUP BY "asset", "chart\"""",
                 columns=["range_value", "range_cl", "range_ucl", "range_lcl"], group_by=["asset", "chart"],
                 alias="$col"),
        span=24, height=6).repeat("characteristic").repeat_direction("v")
    return (
        d.with_row(dash.Row("Control charts"))
        .with_panel(chart)
        .with_panel(range_chart)
        .with_row(dash.Row("Violations and capability"))
        .with_panel(table_panel(
            "Rule violations", "Chart points that broke a rule: rule ids, the value and the last part's serial.",
            InfluxQL(f"""SELECT "violation", "violations", "value", "serial" FROM "spc" WHERE {where}
                     AND "violations" > 0 AND $timeFilter GROUP BY "asset", "characteristic", "chart"
                     ORDER BY time DESC LIMIT 200""",
                     columns=["violation", "violations", "value", "serial"],
                     group_by=["asset", "characteristic", "chart"], result_format="table")))
        .with_panel(table_panel(
            "Process capability", "Latest Cp, Cpk (with confidence interval), Pp, Ppk, Cpm and the "
            "statistics behind them per characteristic.",
            InfluxQL(f"""SELECT last("cp") AS "cp", last("cpk") AS "cpk", last("cpk_low") AS "cpk_low",
                     last("cpk_high") AS "cpk_high", last("pp") AS "pp", last("ppk") AS "ppk", last("cpm") AS "cpm",
                     last("n") AS "n", last("mean") AS "mean", last("sigma_within") AS "sigma_within",
                     last("sigma_overall") AS "sigma_overall", last("normality_p") AS "normality_p",
                     last("lsl") AS "lsl", last("usl") AS "usl" FROM "capability" WHERE {where} AND $timeFilter
                     GROUP BY "asset", "characteristic\"""",
                     columns=["cp", "cpk", "cpk_low", "cpk_high", "pp", "ppk", "cpm", "n", "mean", "sigma_within",
                              "sigma_overall", "normality_p", "lsl", "usl"],
                     group_by=["asset", "characteristic"], result_format="table")))
        .with_panel(timeseries_panel(
            "Cpk and Ppk over time", "Capability indices as the SPC service recomputes them.",
            InfluxQL(f"""SELECT mean("cpk") AS "cpk", mean("ppk") AS "ppk" FROM "capability" WHERE {where}
                     AND $timeFilter GROUP BY time($__interval), "asset", "characteristic" fill(none)""",
                     columns=["cpk", "ppk"], group_by=["asset", "characteristic"],
                     alias="$tag_characteristic $col")))
    )


def energy() -> dash.Dashboard:
    """Energy, cost and carbon by machine and line; energy per good part; deviation from baseline."""
    where = f"{hierarchy()} AND \"period\" = 'hour'"
    d = _base("ft-energy", "Energy and carbon", "kWh, cost and kgCO2e by machine and line, kWh per good "
              "part and deviation from the expected (baseline) energy.", time_from="now-7d", refresh="1m")
    for var in hierarchy_variables(measurement="energy"):
        d = d.with_variable(var)

    def by(field: str, tag: str) -> InfluxQL:
        # Hourly rollups summed per bucket; the panels' 1h minimum interval keeps a bucket
        # from splitting an hour.
        return InfluxQL(f"""SELECT sum("{field}") AS "{field}" FROM "energy" WHERE {where} AND $timeFilter
                        GROUP BY time($__interval), "{tag}" fill(none)""",
                        columns=[field], group_by=[tag], alias=f"$tag_{tag}")

    totals = ('sum("energy_kwh") AS "energy_kwh", sum("cost_cny") AS "cost_cny", sum("co2e_kg") AS "co2e_kg", '
              'sum("idle_kwh") AS "idle_kwh", sum("good_parts") AS "good_parts", '
              'sum("energy_kwh") / sum("good_parts") AS "kwh_per_good_part", '
              '(sum("energy_kwh") - sum("expected_kwh")) / sum("expected_kwh") * 100 AS "deviation_pct", '
              'sum("gap") AS "gap_periods"')
    total_columns = ["energy_kwh", "cost_cny", "co2e_kg", "idle_kwh", "good_parts", "kwh_per_good_part",
                     "deviation_pct", "gap_periods"]
    return (
        d.with_row(dash.Row("Energy, cost and carbon"))
        .with_panel(timeseries_panel("Energy by machine", "kWh per interval per machine.",
                                     by("energy_kwh", "asset"), unit="kwatth", bars=True, interval="1h"))
        .with_panel(timeseries_panel("Energy by line", "kWh per interval per line.",
                                     by("energy_kwh", "line"), unit="kwatth", bars=True, interval="1h"))
        .with_panel(timeseries_panel("Cost by machine", "Time-of-use energy cost (CNY) per machine.",
                                     by("cost_cny", "asset"), unit="currencyCNY", bars=True, interval="1h"))
        .with_panel(timeseries_panel("Carbon by line", "Scope 2 emissions (kg CO2e) per line.",
                                     by("co2e_kg", "line"), unit="masskg", bars=True, interval="1h"))
        .with_row(dash.Row("Efficiency"))
        .with_panel(timeseries_panel(
            "Energy per good part", "kWh per good part as computed for each hour by the energy service.",
            # The service's hourly ratio rather than sum(kWh)/sum(parts): InfluxQL answers 0 for
            # x/0, which would show an hour without good parts as perfectly efficient.
            InfluxQL(f"""SELECT mean("kwh_per_good_part") AS "kwh_per_good_part" FROM "energy" WHERE {where}
                     AND $timeFilter GROUP BY time($__interval), "asset" fill(none)""",
                     columns=["kwh_per_good_part"], group_by=["asset"], alias="$tag_asset"),
            unit="kwatth", interval="1h"))
        .with_panel(timeseries_panel(
            "Deviation from baseline", "Actual against expected (baseline model) energy, in percent.",
            InfluxQL(f"""SELECT (sum("energy_kwh") - sum("expected_kwh")) / sum("expected_kwh") * 100
                     AS "deviation_pct" FROM "energy" WHERE {where} AND $timeFilter
                     GROUP BY time($__interval), "asset" fill(none)""",
                     columns=["deviation_pct"], group_by=["asset"], alias="$tag_asset"),
            unit="percent", interval="1h"))
        .with_panel(timeseries_panel(
            "Actual and expected energy", "kWh measured and kWh the baseline model expected.",
            InfluxQL(f"""SELECT sum("energy_kwh") AS "actual_kwh", sum("expected_kwh") AS "expected_kwh"
                     FROM "energy" WHERE {where} AND $timeFilter GROUP BY time($__interval), "asset" fill(none)""",
                     columns=["actual_kwh", "expected_kwh"], group_by=["asset"], alias="$tag_asset $col"),
            unit="kwatth", span=24, interval="1h"))
        .with_row(dash.Row("Totals for the time range"))
        .with_panel(table_panel(
            "Totals by machine", "Energy, cost, carbon, idle energy, good parts, kWh per good part, "
            "deviation from baseline and hours with data gaps.",
            InfluxQL(f"""SELECT {totals} FROM "energy" WHERE {where} AND $timeFilter GROUP BY "line", "asset\"""",
                     columns=total_columns, group_by=["line", "asset"], result_format="table")))
        .with_panel(table_panel(
            "Totals by line", "The same totals per line.",
            InfluxQL(f"""SELECT {totals} FROM "energy" WHERE {where} AND $timeFilter GROUP BY "line\"""",
                     columns=total_columns, group_by=["line"], result_format="table")))
    )


def pipeline() -> dash.Dashboard:
    """Ingest rate, lag, edge queue depth, dead letters and data completeness per asset."""
    d = _base("ft-pipeline", "Pipeline health", "Ingest rate and lag, edge queue depth and drops, dead "
              "letters, and how complete each asset's data is.", time_from="now-15m", refresh="10s")
    for var in hierarchy_variables():
        d = d.with_variable(var)
    ingest = "\"component\" = 'ingest' AND $timeFilter"
    edge = "\"component\" = 'edge' AND $timeFilter"
    return (
        d.with_row(dash.Row("Ingest"))
        .with_panel(timeseries_panel(
            "Ingest rate", "Points and messages written per second, per ingest worker.",
            # The counters are cumulative per worker process; non_negative_derivative turns
            # them into rates and ignores the drop to zero when a worker restarts.
            InfluxQL(f"""SELECT non_negative_derivative(max("points_total"), 1s) AS "points_per_s"
                     FROM "pipeline" WHERE {ingest} GROUP BY time($__interval), "instance" fill(none)""",
                     columns=["points_per_s"], group_by=["instance"], alias="$tag_instance points/s"),
            InfluxQL(f"""SELECT non_negative_derivative(max("messages_total"), 1s) AS "messages_per_s"
                     FROM "pipeline" WHERE {ingest} GROUP BY time($__interval), "instance" fill(none)""",
                     columns=["messages_per_s"], group_by=["instance"], alias="$tag_instance messages/s"),
            unit="short", span=12))
        .with_panel(timeseries_panel(
            "Ingest lag", "Source timestamp to ingest: age of the oldest reading in the last batch.",
            InfluxQL(f"""SELECT max("lag_s") AS "lag_s" FROM "pipeline" WHERE {ingest}
                     GROUP BY time($__interval), "instance" fill(none)""",
                     columns=["lag_s"], group_by=["instance"], alias="$tag_instance"),
            unit="s", span=12))
        .with_panel(stat_panel(
            "Dead letters and write retries", "Totals since each ingest worker started.",
            InfluxQL(f"""SELECT last("deadletters_total") AS "deadletters_total",
                     last("write_retries_total") AS "write_retries_total" FROM "pipeline" WHERE {ingest}
                     GROUP BY "instance\"""",
                     columns=["deadletters_total", "write_retries_total"], group_by=["instance"],
                     alias="$tag_instance $col"),
            span=8, thresholds=[(None, "green"), (1.0, "red")]))
        .with_panel(timeseries_panel(
            "Dead letters per interval", "New dead letters (rejected input) per interval.",
            InfluxQL(f"""SELECT non_negative_difference(max("deadletters_total")) AS "deadletters"
                     FROM "pipeline" WHERE {ingest} GROUP BY time($__interval), "instance" fill(none)""",
                     columns=["deadletters"], group_by=["instance"], alias="$tag_instance"),
            span=16, height=5, bars=True))
        .with_row(dash.Row("Edge agents"))
        .with_panel(stat_panel(
            "Edge agents online", "1 when the agent's retained status says online; its last will says offline.",
            InfluxQL(f"""SELECT last("online") AS "online" FROM "pipeline" WHERE {edge} GROUP BY "instance\"""",
                     columns=["online"], group_by=["instance"], alias="$tag_instance"),
            span=6, thresholds=[(None, "red"), (1.0, "green")]))
        .with_panel(timeseries_panel(
            "Edge queue depth", "Readings waiting in each edge agent's disk queue for the broker's PUBACK.",
            InfluxQL(f"""SELECT max("queue_depth") AS "queue_depth" FROM "pipeline" WHERE {edge}
                     GROUP BY time($__interval), "instance" fill(none)""",
                     columns=["queue_depth"], group_by=["instance"], alias="$tag_instance"),
            span=12, height=5))
        .with_panel(stat_panel(
            "Edge readings dropped", "Readings dropped because an edge queue was full (oldest first).",
            InfluxQL(f"""SELECT last("dropped_total") AS "dropped_total", last("published_total") AS
                     "published_total" FROM "pipeline" WHERE {edge} GROUP BY "instance\"""",
                     columns=["dropped_total", "published_total"], group_by=["instance"],
                     alias="$tag_instance $col"),
            span=6, thresholds=[(None, "green"), (1.0, "red")]))
        .with_row(dash.Row("Data completeness"))
        .with_panel(table_panel(
            "Data completeness per asset",
            "Percentage of intervals in the time range in which the asset delivered at least one reading.",
            # count/(count+1e-9) is 1 for a bucket with readings and 0 for an empty one
            # (fill(0)); InfluxQL has no min() of a scalar to clamp a count to 1.
            InfluxQL(f"""SELECT mean("present") * 100 AS "completeness_pct" FROM (SELECT count("quality") /
                     (count("quality") + 0.000000001) AS "present" FROM "telemetry" WHERE {hierarchy()}
                     AND $timeFilter GROUP BY time($__interval), "asset" fill(0)) GROUP BY "asset\"""",
                     columns=["completeness_pct"], group_by=["asset"], result_format="table"),
            span=8, height=8))
        .with_panel(timeseries_panel(
            "Readings per interval", "Readings stored per interval and asset; a gap drops to zero.",
            InfluxQL(f"""SELECT count("quality") AS "readings" FROM "telemetry" WHERE {hierarchy()}
                     AND $timeFilter GROUP BY time($__interval), "asset" fill(0)""",
                     columns=["readings"], group_by=["asset"], alias="$tag_asset"),
            span=16, height=8))
    )


DASHBOARDS = (plant_overview, machine_detail, spc, energy, pipeline)


@dataclass(frozen=True, slots=True)
class Target:
    """One panel query of a built dashboard, with what the panel expects of its result."""

    dashboard_uid: str
    panel_id: int
    panel_title: str
    repeat: str | None
    query: InfluxQLQuery


def build_all() -> list[models.Dashboard]:
    """Every dashboard model, panels numbered 1… in layout order (stable ids keep JSON diffs small)."""
    built = []
    for make in DASHBOARDS:
        model = make().build()
        for number, panel in enumerate(model.panels or [], start=1):
            panel.id_val = number
        built.append(model)
    return built


def targets(models_: list[models.Dashboard]) -> Iterator[Target]:
    """Every InfluxQL target of the given dashboards."""
    for model in models_:
        for panel in model.panels or []:
            if not isinstance(panel, models.Panel):
                continue  # rows have no queries
            for query in panel.targets or []:
                if not isinstance(query, InfluxQLQuery):  # every panel is built by this module with InfluxQL
                    raise TypeError(f"dashboard {model.uid} panel {panel.title!r}: target {type(query).__name__} "
                                    "is not an InfluxQL query")
                yield Target(str(model.uid), int(panel.id_val or 0), str(panel.title), panel.repeat, query)


def render(model: models.Dashboard) -> str:
    """A dashboard's JSON as committed: sorted keys, two-space indent, trailing newline."""
    data = json.loads(json.dumps(model, cls=JSONEncoder))
    # Provisioning and the HTTP API match dashboards by uid; a numeric id would tie the
    # file to one Grafana instance's database.
    data.pop("id", None)
    for panel in data.get("panels", []):
        # The SDK writes `options: null` for panels without options; Grafana's panel
        # migrations expect an object there.
        if panel.get("type") != "row" and panel.get("options") is None:
            panel["options"] = {}
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → JSON text for every dashboard."""
    return {f"{m.uid}.json": render(m) for m in build_all()}


def generate(out_dir: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard's JSON into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        log.info("wrote %s", path)
        written.append(path)
    return written
