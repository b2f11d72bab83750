"""The `energy` click group: `energy report` prints kWh, cost, kgCO2e and kWh per good part.

The group gets its data from a `ReportSource` (a callable (start, end) -> meter rows) and
its meters, tariff and factor choice from an `EnergyConfig`. The twin CLI registers the
group with the InfluxDB-backed source and the plant file's `energy:` section:

    from analytics.energy.influx_source import plant_energy_config, plant_source
    build_energy_group(source_factory=plant_source, config_factory=plant_energy_config)

and `--input FILE.csv` always works offline. Library code does not print; this module does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from analytics.energy.carbon import FactorTable
from analytics.energy.config import EXAMPLE_TARIFF_PATH, EnergyConfig, load_energy_config, load_tariff
from analytics.energy.counters import DEFAULT_MAX_INTERVAL_S, CounterSettings
from analytics.energy.report import EnergyReport, ReportSource, build_report, csv_source, fetch_window, to_csv, to_json
from analytics.energy.tariffs import DEFAULT_TZ
from twin.errors import TwinError
from twin.timezones import UnknownTimeZone, zone

SourceFactory = Callable[[], ReportSource]

_CSV_HELP = """\
CSV input (--input): header row, one reading per row.

\b
  timestamp   ISO 8601, e.g. 2026-03-02T08:00:00+08:00 (no offset: --tz)
  asset       asset id
  energy_kwh  cumulative kWh counter reading   } one of the two
  power_kw    instantaneous power (integrated) }
  good_parts  optional: good parts completed since the asset's previous row
  line        optional: line of the asset
  product     optional: product made in the interval ending at this row
  state       optional: machine state in that interval (idle/standby count as idle energy)
"""


def _parse_when(text: str, tz: ZoneInfo, option: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2026-03-02 or 2026-03-02T08:00:00+08:00)",
                                 param_hint=option) from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _zone(ctx: click.Context, param: click.Parameter, value: str) -> ZoneInfo:
    try:
        return zone(value)
    except UnknownTimeZone as exc:
        raise click.BadParameter(str(exc)) from None


# The widest gap worth bridging: the report also fetches this much before --from and after --to.
MAX_GAP_LIMIT_S = 31 * 86400.0


def _max_gap(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # FloatRange alone lets nan through: every comparison with it is false.
    if not (math.isfinite(value) and 0 < value <= MAX_GAP_LIMIT_S):
        raise click.BadParameter(f"must be more than 0 and at most {MAX_GAP_LIMIT_S:g} s (31 days), got {value}")
    return value


def _counter_max(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive number of kWh, got {value}")
    return value


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {errors[0]['msg']}{more}" if errors else str(exc)


def _table(report: EnergyReport, tz: ZoneInfo) -> Table:
    start, end = report.start.astimezone(tz).isoformat(), report.end.astimezone(tz).isoformat()
    t = Table(title=f"Energy {start} → {end} by {report.by}")
    t.add_column(report.by)
    for col in ("kWh", "CNY", "kgCO2e", "idle kWh", "good", "kWh/good", "flags"):
        t.add_column(col, justify="right")
    for r in (*report.rows, report.total):
        flags = ", ".join(f"{n} {what}" for n, what in ((r.gaps, "gap"), (r.resets, "reset"),
                                                          (r.rollovers, "roll-over")) if n)
        t.add_row(r.key, f"{r.energy_kwh:,.3f}", f"{r.cost_cny:,.2f}", f"{r.co2e_kg:,.3f}", f"{r.idle_kwh:,.3f}",
                  f"{r.good_parts:,.0f}", "-" if r.kwh_per_good_part is None else f"{r.kwh_per_good_part:.4f}",
                  flags, style="bold" if r.key == "TOTAL" else None)
    return t


def build_energy_group(source_factory: SourceFactory | None = None,
                       config_factory: Callable[[], EnergyConfig | None] | None = None) -> click.Group:
    """The `energy` command group; `source_factory` supplies rows when --input is not given,
    `config_factory` the energy configuration (the plant's `energy:` section) when --config is not."""

    @click.group(name="energy")
    def energy() -> None:
        """Energy, cost and carbon accounting (环)."""

    @energy.command(name="report", epilog=_CSV_HELP)
    @click.option("--from", "from_", required=True, help="start (ISO 8601; no offset: --tz)")
    @click.option("--to", "to", required=True, help="end, exclusive")
    @click.option("--by", type=click.Choice(["machine", "line", "product"]), default="machine", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
    @click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="read meter rows from this CSV instead of the database (format below)")
    @click.option("--tariff", "tariff_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="time-of-use tariff YAML (default: the illustrative example tariff)")
    @click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="energy config YAML (meters, tariff, factor choice and overrides)")
    @click.option("--factor", "factor_id", default=None, help="grid factor id (default cn_national_2023)")
    @click.option("--counter-max", type=float, default=None, callback=_counter_max,
                  help="counter register maximum, kWh (e.g. 999999.9)")
    @click.option("--max-gap-s", type=float, default=DEFAULT_MAX_INTERVAL_S, show_default=True, callback=_max_gap,
                  help="readings further apart are a flagged gap")
    @click.option("--tz", "tz", default=DEFAULT_TZ, show_default=True, callback=_zone, help="plant time zone")
    def report(from_: str, to: str, by: str, fmt: str, input_path: Path | None, tariff_path: Path | None,
               config_path: Path | None, factor_id: str | None, counter_max: float | None, max_gap_s: float,
               tz: ZoneInfo) -> None:
        """Print kWh, cost, kgCO2e and kWh per good part from --from to --to."""
        err = Console(stderr=True)
        start, end = _parse_when(from_, tz, "--from"), _parse_when(to, tz, "--to")
        if end <= start:
            raise click.BadParameter(f"{to} is not after --from {from_}", param_hint="--to")
        try:
            if config_path is not None:
                cfg: EnergyConfig | None = load_energy_config(config_path)
            else:
                cfg = config_factory() if config_factory is not None and input_path is None else None
            if tariff_path is not None:
                tariff = load_tariff(tariff_path)
            elif cfg is not None and cfg.tariff is not None:
                tariff = cfg.tariff.to_tariff()
            else:
                tariff = load_tariff(EXAMPLE_TARIFF_PATH)
            table = FactorTable.load()
            if cfg is not None:
                table = table.with_overrides(cfg.overrides())
            fid = factor_id or (cfg.location_factor if cfg else "cn_national_2023")
            factor = table.get(fid)
            if input_path is not None:
                source: ReportSource = csv_source(input_path, timezone=tz.key)
            elif source_factory is not None:
                source = source_factory()
            else:
                raise click.UsageError("no data source configured: give --input FILE.csv")
            rows = list(source(*fetch_window(start, end, max_gap_s)))
            settings = CounterSettings(counter_max_kwh=counter_max, max_interval_s=max_gap_s)
            # A plant-backed source attributes rows to machines and says which meter config each uses.
            meters = getattr(source, "meters", None) if input_path is None else None
            if meters is None:
                meters = {m.asset: m for m in cfg.meters} if cfg else None
            result = build_report(rows, start=start, end=end, by=by,  # type: ignore[arg-type]
                                  tariff=tariff, factor_kg_per_kwh=factor.kg_per_kwh, factor_id=fid,
                                  meters=meters, settings=settings)
        except TwinError as exc:  # the package's EnergyError, the plant file's, InfluxDB unreachable
            raise click.ClickException(str(exc)) from None
        except ValidationError as exc:  # a TWIN_* setting, read by the plant-backed source
            raise click.ClickException(f"invalid TWIN_* setting: {_first_error(exc)}") from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if fmt == "csv":
            click.echo(to_csv(result), nl=False)
        elif fmt == "json":
            click.echo(to_json(result))
        else:
            Console().print(_table(result, tz))
            err.print(f"CO2e: location-based, {fid} = {factor.kg_per_kwh} kgCO2/kWh ({factor.source}, "
                      f"{factor.year})")
        for note in result.notes:
            err.print(f"[yellow]note:[/] {note}")

    @energy.command(name="run")
    @click.option("--plant", "plant_path", type=click.Path(dir_okay=False), default=None,
                  help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")
    @click.option("--instance", default="1", show_default=True, help="Instance name (instances share the stream).")
    def run_cmd(plant_path: str | None, instance: str) -> None:
        """Run the energy service on its own: meter telemetry → hourly/daily rollups, waste alerts."""
        from analytics.energy.service import build_energy
        from analytics.runtime import run_analytics
        from twin.clirun import load_plant_file, load_settings, run_service

        settings = load_settings()
        plant = load_plant_file(plant_path, settings)
        try:
            analytic = build_energy(plant)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if analytic is None:
            raise click.ClickException("the plant file has no energy: section with meters")
        Console().print(f"energy running on {', '.join(analytic.meters)}")
        run_service(run_analytics(settings, plant, [analytic], instance=instance))

    return energy


#: The group without a database source (offline: --input). The twin CLI builds its own with a source.
energy = build_energy_group()
