"""Building blocks for the dashboards: a typed InfluxQL target, template variables, panel factories.

grafana-foundation-sdk (10.1) has builders for dashboards, panels and variables but none
for InfluxDB queries, so `InfluxQL` is a small builder of our own that plugs into the
SDK's `with_target` (it is a `cog` `Builder[Dataquery]`). Every target also carries what
its panel needs from the result (`Expect`: the columns of each series and the tags it is
grouped by). That expectation is not written to the dashboard JSON; it is what the
verification test (tests/integration/test_dashboards_queries.py) checks when it runs
each query against a real InfluxDB.

All queries are raw InfluxQL in Grafana's "raw query" mode, with Grafana's own macros:
`$timeFilter`, `$__interval` and template variables (`/^$asset$/` in regex matches for
multi-value variables, `'$asset'` for single values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self, TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

DATASOURCE_UID = "factory-twin-influxdb"
DATASOURCE = models.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)

ResultFormat = Literal["time_series", "table"]


@dataclass(frozen=True, slots=True)
class Expect:
    """What a panel needs from one query: the columns of every series and the tags it is grouped by."""

    columns: tuple[str, ...]
    group_by: tuple[str, ...] = ()


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL target as Grafana's InfluxDB data source stores it in dashboard JSON."""

    def __init__(self, *, ref_id: str, query: str, result_format: ResultFormat, alias: str | None,
                 expect: Expect) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias
        self.expect = expect

    def to_json(self) -> dict[str, object]:
        """The target's JSON; `expect` stays out of it (it is for the verification test only)."""
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            # rawQuery tells Grafana to send `query` as written instead of building it
            # from the visual editor's select/where/groupBy parts.
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder for an `InfluxQLQuery`; `expect` names the columns (after `time`) the panel reads."""

    def __init__(self, query: str, *, columns: Sequence[str], group_by: Sequence[str] = (),
                 result_format: ResultFormat = "time_series", alias: str | None = None) -> None:
        self._query = " ".join(query.split())  # one line in the JSON, as Grafana's editor saves it
        self._expect = Expect(("time", *columns), tuple(group_by))
        self._result_format: ResultFormat = result_format
        self._alias = alias
        self._ref_id = "A"

    def ref_id(self, ref_id: str) -> Self:
        """Set the target's refId (panel factories number targets A, B, C, …)."""
        self._ref_id = ref_id
        return self

    def build(self) -> InfluxQLQuery:
        """The target."""
        return InfluxQLQuery(ref_id=self._ref_id, query=self._query, result_format=self._result_format,
                             alias=self._alias, expect=self._expect)


def hierarchy(*, asset: Literal["multi", "single"] = "multi") -> str:
    """WHERE clause on the ISA-95 tags from the site/area/line/asset variables."""
    asset_clause = "\"asset\" =~ /^$asset$/" if asset == "multi" else "\"asset\" = '$asset'"
    return f"\"site\" =~ /^$site$/ AND \"area\" =~ /^$area$/ AND \"line\" =~ /^$line$/ AND {asset_clause}"


# --- template variables ---------------------------------------------------------------


def tag_variable(name: str, label: str, *, measurement: str, where: str = "", multi: bool = True) -> dash.QueryVariable:
    """A variable listing one tag's values with `SHOW TAG VALUES`, chained through `where`."""
    query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{name}"'
    if where:
        query += f" WHERE {where}"
    var = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        # Re-read on time-range change too, so assets that appear while the page is open show up.
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        # Default to All; Grafana expands it to every value, `(a|b|c)` in a regex.
        var = var.current(models.VariableOption(selected=True, text="All", value="$__all"))
    return var


def hierarchy_variables(*, measurement: str = "telemetry", asset_multi: bool = True) -> list[dash.QueryVariable]:
    """site → area → line → asset, each filtered by the ones before it."""
    return [
        tag_variable("site", "Site", measurement=measurement),
        tag_variable("area", "Area", measurement=measurement, where="\"site\" =~ /^$site$/"),
        tag_variable("line", "Line", measurement=measurement,
                     where="\"site\" =~ /^$site$/ AND \"area\" =~ /^$area$/"),
        tag_variable("asset", "Asset", measurement=measurement, multi=asset_multi,
                     where="\"site\" =~ /^$site$/ AND \"area\" =~ /^$area$/ AND \"line\" =~ /^$line$/"),
    ]


# --- panels ---------------------------------------------------------------------------


P = TypeVar("P", timeseries.Panel, stat.Panel, table.Panel, statetimeline.Panel)


def _with_targets(panel: P, targets: Sequence[InfluxQL]) -> P:
    for index, target in enumerate(targets):
        panel = panel.with_target(target.ref_id(chr(ord("A") + index)))
    return panel


def timeseries_panel(title: str, description: str, *targets: InfluxQL, unit: str = "short",
                     span: int = 12, height: int = 8, bars: bool = False, points: bool = False,
                     interval: str | None = None) -> timeseries.Panel:
    """A time series panel; `interval` is the panel's minimum `$__interval`."""
    panel = (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
        .unit(unit).span(span).height(height)
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if points:
        panel = panel.draw_style(common.GraphDrawStyle.POINTS).point_size(6)
    if interval:
        panel = panel.interval(interval)
    return _with_targets(panel, targets)


def stat_panel(title: str, description: str, *targets: InfluxQL, unit: str = "short", span: int = 6,
               height: int = 5, decimals: float | None = None, time_from: str | None = None,
               thresholds: Sequence[tuple[float | None, str]] | None = None) -> stat.Panel:
    """A stat panel showing the last value of each series."""
    panel = (
        stat.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(span).height(height)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if time_from:
        panel = panel.time_from(time_from)
    if thresholds:
        panel = panel.thresholds(
            dash.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE)
            .steps([models.Threshold(value=v, color=c) for v, c in thresholds]))
    return _with_targets(panel, targets)


def table_panel(title: str, description: str, *targets: InfluxQL, span: int = 24, height: int = 8,
                merge: bool = False) -> table.Panel:
    """A table; `merge` joins the targets' rows on their shared columns (Grafana's merge transform)."""
    panel = table.Panel().title(title).description(description).datasource(DATASOURCE).span(span).height(height)
    if merge:
        panel = panel.with_transformation(models.DataTransformerConfig(id_val="merge", options={}))
    return _with_targets(panel, targets)


def state_timeline_panel(title: str, description: str, *targets: InfluxQL, colours: dict[str, str],
                         span: int = 24, height: int = 6) -> statetimeline.Panel:
    """A state timeline with a fixed colour per state text."""
    mapping = models.ValueMap(options={
        state: models.ValueMappingResult(color=colour, index=index)
        for index, (state, colour) in enumerate(colours.items())
    })
    panel = (
        statetimeline.Panel().title(title).description(description).datasource(DATASOURCE)
        .span(span).height(height).mappings([mapping])
    )
    return _with_targets(panel, targets)

