"""What Grafana's InfluxDB (InfluxQL) data source does to a raw query before sending it.

Grafana cannot run on these machines, so the verification test replays its substitution
to run every panel's query against a real InfluxDB. The rules follow Grafana 10's
InfluxDB data source (public/app/plugins/datasource/influxdb/datasource.ts) and the
interval calculation of @grafana/data (rangeutil.calculateInterval, roundInterval):

- `$timeFilter` / `$__timeFilter`: `from` of the form `now-<n><s|m|h|d>` becomes
  `now() - <n><unit>`; anything else (`now/d`, `now-7w`, absolute) is resolved to epoch
  milliseconds, `<ms>ms`. When `to` is `now` and `from` is relative the filter is just
  `time >= now() - 1h`; otherwise `time >= <from> and time <= <to>`.
- `$__interval`: (to − from) / max data points, rounded to Grafana's ladder of "nice"
  intervals, then raised to the panel's minimum interval (`interval`, e.g. `1h`);
  written as `10s`, `1m`, `1h`. Grafana takes max data points from the panel's pixel
  width; we use 1000 (a full-width panel) unless the panel sets `maxDataPoints`.
  `$__interval_ms` is the same in milliseconds.
- Template variables `$name`, `${name}` and `[[name]]`: a variable that is multi-value
  or has "All" is formatted for a regex (`/^$asset$/`): each value regex-escaped, several
  joined as `(a|b)`, "All" expanding to every value. A single-value variable is inserted
  as is (`'$asset'`).
- A panel's relative time (`timeFrom`, e.g. `now/d` = today) replaces the dashboard range
  for that panel, from the start to the end of the period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^now-(\d+)([smhd])$")
_DATE_MATH = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# (upper bound of the raw interval, rounded interval) in ms — @grafana/data roundInterval.
_ROUNDING = [
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10_000), (17500, 15_000), (25_000, 20_000), (45_000, 30_000), (90_000, 60_000),
    (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
    (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
]
_YEAR_MS = 31_536_000_000
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]")
_MACROS = {"timeFilter", "__timeFilter", "__interval", "__interval_ms"}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A Grafana time range in its raw form (`now-6h` … `now`)."""

    start: str = "now-6h"
    end: str = "now"


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable's current value(s); `regex` is true for multi-value or include-All variables."""

    values: tuple[str, ...]
    regex: bool


def parse_date_math(text: str, *, now: datetime, round_up: bool) -> datetime:
    """Resolve Grafana date math (`now`, `now-7d`, `now/d`, `now-1d/d`) in UTC."""
    match = _DATE_MATH.match(text)
    if not match:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    amount, unit, round_to = match.groups()
    ts = now
    if amount:
        ts = ts - _duration(int(amount), unit)
    if round_to:
        start = _floor(ts, round_to)
        # Rounding up goes to the last millisecond of the period, as Grafana's dateMath does.
        ts = _next_period(start, round_to) - timedelta(milliseconds=1) if round_up else start
    return ts


def _duration(amount: int, unit: str) -> timedelta:
    if unit == "M":
        return timedelta(days=30 * amount)
    if unit == "y":
        return timedelta(days=365 * amount)
    return timedelta(milliseconds=amount * _UNIT_MS[unit])


def _next_period(start: datetime, unit: str) -> datetime:
    if unit == "M":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    if unit == "y":
        return start.replace(year=start.year + 1)
    return start + _duration(1, unit)


def _floor(ts: datetime, unit: str) -> datetime:
    if unit == "s":
        return ts.replace(microsecond=0)
    if unit == "m":
        return ts.replace(second=0, microsecond=0)
    if unit == "h":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        return day - timedelta(days=day.weekday())
    if unit == "M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _influx_time(text: str, *, now: datetime, round_up: bool) -> str:
    if text == "now":
        return "now()"
    match = _RELATIVE.match(text)
    if match:
        return f"now() - {match.group(1)}{match.group(2)}"
    ms = int(parse_date_math(text, now=now, round_up=round_up).timestamp() * 1000)
    return f"{ms}ms"


def time_filter(time_range: TimeRange, *, now: datetime) -> str:
    """`$timeFilter` for a range, exactly as Grafana's InfluxDB data source writes it."""
    start = _influx_time(time_range.start, now=now, round_up=False)
    end = _influx_time(time_range.end, now=now, round_up=True)
    if end == "now()" and not start.endswith("ms"):
        return f"time >= {start}"
    return f"time >= {start} and time <= {end}"


def duration_ms(text: str) -> int:
    """Milliseconds of a Grafana interval string (`10s`, `1h`, `>1h`)."""
    match = re.fullmatch(r">?(\d+)(ms|s|m|h|d|w)", text.strip())
    if not match:
        raise ValueError(f"not an interval: {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def format_duration(ms: int) -> str:
    """An interval in the largest whole unit, as Grafana prints `$__interval`."""
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def interval_ms(time_range: TimeRange, *, now: datetime, max_data_points: int = 1000,
                min_interval: str | None = None) -> int:
    """`$__interval_ms`: the range over max data points, rounded, at least the minimum interval."""
    start = parse_date_math(time_range.start, now=now, round_up=False)
    end = parse_date_math(time_range.end, now=now, round_up=True)
    raw = (end - start).total_seconds() * 1000 / max_data_points
    rounded = next((r for limit, r in _ROUNDING if raw < limit), _YEAR_MS)
    low = duration_ms(min_interval) if min_interval else 1
    return max(rounded, low)


def format_variable(variable: Variable) -> str:
    """A variable's value as Grafana's InfluxDB data source puts it into a query."""
    if not variable.regex:
        return variable.values[0] if variable.values else ""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}/])", r"\\\1", v) for v in variable.values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(query: str, *, variables: Mapping[str, Variable], time_range: TimeRange, now: datetime,
                max_data_points: int = 1000, min_interval: str | None = None) -> str:
    """The query Grafana would send for this panel; KeyError names a variable that is not defined."""
    ms = interval_ms(time_range, now=now, max_data_points=max_data_points, min_interval=min_interval)
    macros = {
        "timeFilter": time_filter(time_range, now=now),
        "__timeFilter": time_filter(time_range, now=now),
        "__interval": format_duration(ms),
        "__interval_ms": str(ms),
    }

    def substitute(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        if name in macros:
            return macros[name]
        if name not in variables:
            raise KeyError(f"query uses ${name}, which is not a variable of the dashboard")
        return format_variable(variables[name])

    return _VARIABLE.sub(substitute, query)


def variables_used(query: str) -> Sequence[str]:
    """Names of the template variables a query refers to (macros left out)."""
    names = [next(g for g in m.groups() if g is not None) for m in _VARIABLE.finditer(query)]
    return [n for n in names if n not in _MACROS]


def utc_now() -> datetime:
    """The current time, in UTC (the tests' "browser" time zone)."""
    return datetime.now(UTC)
