"""Meter rows for `twin energy report` from InfluxDB: the raw `telemetry` the pipeline stored.

For each meter of the plant's `energy:` section it reads, in the report window and with
InfluxQL bound parameters only (no user value is spliced into a query):

- the meter's signal (counter kWh or power kW) — one `MeterRow` per reading, attributed to
  the machine the meter asset's `meters:` link names (as the streaming service does);
- the machine's `state` (the `text` field): each row gets the state in force at the start
  of the interval it ends;
- good parts, by the service's rule: gauge documents (one source timestamp) whose
  characteristics with spec limits are all in spec, or else `part_count` increments; a part
  is counted on the first meter row at or after its timestamp.

The report CLI is synchronous: the source runs its queries with `asyncio.run` when called.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.energy.config import EnergyConfig, MeterConfig
from analytics.energy.plugin import energy_config
from analytics.energy.report import MeterRow, ReportSource
from analytics.spc.plugin import characteristic
from twin.connect import influx_client
from twin.influx import InfluxDB
from twin.plant import Plant, load_plant
from twin.readings import format_ts
from twin.settings import Settings

QUERY = ('SELECT "value", "text", "quality" FROM "telemetry" WHERE "asset" = $asset AND "signal" = $signal '
         'AND time >= $start AND time <= $end ORDER BY time')


def _ts(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


async def _series(db: InfluxDB, asset: str, signal: str, start: datetime, end: datetime
                  ) -> list[tuple[datetime, Any, Any]]:
    """(time, value, text) of one signal's good readings in [start, end]."""
    params = {"asset": asset, "signal": signal, "start": format_ts(start), "end": format_ts(end)}
    out = []
    for s in await db.query(QUERY, params=params, epoch="ns"):
        for rec in s.records():
            if rec.get("quality") in (None, "good"):
                out.append((_ts(int(rec["time"])), rec.get("value"), rec.get("text")))
    return out


async def _good_part_times(db: InfluxDB, plant: Plant, machine: str, start: datetime, end: datetime
                           ) -> list[datetime]:
    """Times of good parts of `machine`: its gauges' in-spec documents, else part_count increments."""
    times: list[datetime] = []
    gauges = [(p, a) for p, a in plant.assets() if a.measures == machine]
    for path, gauge in gauges:
        specs = {n: c for n, s in gauge.signals.items()
                 if (c := characteristic(s)) is not None and (c.lsl is not None or c.usl is not None)}
        if not specs:
            signal = next(iter(gauge.signals))
            times += sorted({t for t, _, _ in await _series(db, path.asset, signal, start, end)})
            continue
        good: dict[datetime, bool] = {}
        for name, spec in specs.items():
            seen = set()
            for t, v, _ in await _series(db, path.asset, name, start, end):
                seen.add(t)
                ok = v is not None and (spec.lsl is None or v >= spec.lsl) and (spec.usl is None or v <= spec.usl)
                good[t] = good.get(t, True) and ok
            for t in set(good) - seen:  # a part without this characteristic cannot be confirmed good
                good[t] = False
        times += [t for t, ok in good.items() if ok]
    if not gauges:
        _, asset = plant.asset(machine)
        if "part_count" in asset.signals:
            last: float | None = None
            for t, v, _ in await _series(db, machine, "part_count", start, end):
                if v is None:
                    continue
                if last is not None:
                    n = v - last if v >= last else v  # a drop is a counter reset: counted from zero since
                    times += [t] * round(n)
                last = float(v)
    return sorted(times)


async def fetch_rows(db: InfluxDB, plant: Plant, start: datetime, end: datetime) -> list[MeterRow]:
    """Every configured meter's readings in [start, end] as report rows (asset = the metered machine)."""
    config = energy_config(plant)
    if config is None:
        return []
    rows: list[MeterRow] = []
    for meter in config.meters:
        meter_path, meter_asset = plant.asset(meter.asset)
        machine_path, machine_asset = plant.asset(meter_asset.meters) if meter_asset.meters else (meter_path,
                                                                                                  meter_asset)
        readings = [(t, float(v)) for t, v, _ in await _series(db, meter.asset, meter.signal, start, end)
                    if v is not None]
        states = ([(t, str(x)) for t, _, x in await _series(db, machine_path.asset, "state", start, end)
                   if x is not None] if "state" in machine_asset.signals else [])
        state_times = [t for t, _ in states]
        parts = await _good_part_times(db, plant, machine_path.asset, start, end)
        prev: datetime | None = None
        for t, v in readings:
            # The interval ending at this row has the state in force at its start (service rule).
            i = bisect.bisect_right(state_times, prev if prev is not None else t)
            n_parts = (bisect.bisect_right(parts, t) - bisect.bisect_right(parts, prev)) if prev is not None else 0
            rows.append(MeterRow(ts=t, asset=machine_path.asset, line=machine_path.line,
                                 energy_kwh=v if meter.kind == "counter" else None,
                                 power_kw=v if meter.kind == "power" else None,
                                 good_parts=float(n_parts) if parts else None,
                                 state=states[i - 1][1] if i else None))
            prev = t
    rows.sort(key=lambda r: (r.ts, r.asset))
    return rows


class InfluxReportSource:
    """A ReportSource over InfluxDB for one plant; `meters` and `energy` tell the report how to read them."""

    def __init__(self, settings: Settings, plant: Plant) -> None:
        self.settings = settings
        self.plant = plant
        self.energy: EnergyConfig | None = energy_config(plant)
        # Rows carry the machine id, so the report looks meter settings (roll-over, gaps) up by machine.
        self.meters: Mapping[str, MeterConfig] = {}
        if self.energy is not None:
            by_machine = {}
            for m in self.energy.meters:
                _, asset = plant.asset(m.asset)
                by_machine[asset.meters or m.asset] = m
            self.meters = by_machine

    def __repr__(self) -> str:
        return f"InfluxReportSource(url={self.settings.influx_url!r}, database={self.settings.influx_db!r})"

    def __call__(self, start: datetime, end: datetime) -> list[MeterRow]:
        """Rows with start <= ts <= end (runs the queries to completion)."""

        async def run() -> list[MeterRow]:
            async with influx_client(self.settings) as db:
                return await fetch_rows(db, self.plant, start, end)

        return asyncio.run(run())


def influx_source(settings: Settings, plant: Plant) -> ReportSource:
    """A ReportSource over TWIN_INFLUX_URL / TWIN_INFLUX_DB for the plant's meters."""
    return InfluxReportSource(settings, plant)


def plant_source() -> ReportSource:
    """`source_factory` for the twin CLI: settings from TWIN_*, the plant from TWIN_PLANT_FILE."""
    settings = Settings()
    return InfluxReportSource(settings, load_plant(settings.plant_file))


def plant_energy_config() -> EnergyConfig | None:
    """`config_factory` for the twin CLI: the `energy:` section of TWIN_PLANT_FILE."""
    return energy_config(load_plant(Settings().plant_file))
