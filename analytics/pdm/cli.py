"""The `pdm` command group: evaluate the detector and RUL on labelled files, train and save models.

    pdm evaluate FILE.csv [FILE.csv …] [--sep SEP] [--time-col NAME] [--label-col anomaly]
                 [--train-rows N | --train-file FILE] [--json]
    pdm evaluate-rul RUNS.csv [--unit-col unit] [--time-col time] [--train-steps N] [--json]
    pdm train FILE.csv --asset ID --out DIR
    pdm synth OUT_DIR            synthetic bearing runs to try the above on
    pdm train-history --asset ID --from ISO --to ISO [--plant FILE] [--models DIR]
    pdm run [--plant FILE] [--models DIR]          the streaming service on its own
    pdm evaluate-sim [--scenario NAME] [--seed S] [--runs N] [--json]

The lead registers this group in `twin/cli.py` as `twin pdm`. Printing is here, with rich;
errors in the input become click errors naming the file and column, never tracebacks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import click
import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from analytics.pdm.errors import PdmError
from analytics.pdm.evaluate import (
    Confusion,
    DetectorSettings,
    FileResult,
    evaluate_file,
    evaluate_rul,
    labels_of,
    matrix,
    pooled_summary,
    read_table,
    rmse,
    signal_names,
)
from analytics.pdm.models import DEFAULT_METHOD, METHODS, Method, fit_baseline
from analytics.pdm.plugin import pdm_config
from analytics.pdm.store import ModelRegistry, save_model

console = Console()
if not console.is_terminal:
    # Piped output (CI logs, files) is read whole; do not squeeze the tables to 80 columns.
    console.width = 140

method_option = click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD, show_default=True,
                             help="Detector: PCA T²+Q, robust covariance (MCD) or isolation forest.")
trim_option = click.option("--trim", type=click.FloatRange(0, 0.5), default=0.001, show_default=True,
                           help="Leave out training rows beyond this robust-distance tail probability (0: keep all).")
alpha_option = click.option("--alpha", type=click.FloatRange(1e-6, 0.5), default=0.01, show_default=True,
                            help="False-alarm probability per statistic that sets the control limit.")


def _check_sep(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # The csv module takes a one-character delimiter only (TypeError otherwise); \t is spelt out.
    if value is not None and value != "\\t" and (len(value) != 1 or value in "\r\n\"" or value.isalnum()):
        raise click.BadParameter(f"must be one character such as ';', ',' or \\t (not a letter, digit, quote or "
                                 f"line break), got {value!r}")
    return value


sep_option = click.option("--sep", default=None, callback=_check_sep,
                          help="Field separator (default: ';' if the header has one, else ',').")


@contextmanager
def _user_errors(param: str | None = None) -> Iterator[None]:
    """Turn the package's errors into click errors that name the file/column (no traceback)."""
    try:
        yield
    except PdmError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


def _sniff_sep(path: Path, sep: str | None) -> str:
    if sep is not None:
        return "\t" if sep == "\\t" else sep
    try:
        with path.open(encoding="utf-8-sig") as f:
            first = f.readline()
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})",
                                 param_hint="FILE") from None
    except OSError as exc:
        raise click.BadParameter(f"{path}: cannot read: {exc.strerror or exc}", param_hint="FILE") from None
    return ";" if first.count(";") > first.count(",") else ","


def _fmt(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.3f}"


@click.group()
def pdm() -> None:
    """Predictive maintenance: evaluate detectors and RUL, train baseline models."""


@pdm.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@sep_option
@click.option("--time-col", default=None, help="Timestamp column, not a signal (default: datetime/timestamp/time/ts).")
@click.option("--label-col", default="anomaly", show_default=True, help="0/1 anomaly label column.")
@click.option("--train-rows", type=click.IntRange(min=1), default=None,
              help="Train on the first N rows of each file (default: the leading rows labelled 0).")
@click.option("--train-file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Train on this file's normal rows instead, and score every row of each FILE.")
@click.option("--ignore", multiple=True, help="A numeric column that is not a signal (repeatable).")
@method_option
@alpha_option
@trim_option
@click.option("--dwell", type=click.IntRange(min=1), default=3, show_default=True,
              help="Consecutive rows needed to raise or clear an alarm (hysteresis).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def evaluate(files: tuple[Path, ...], sep: str | None, time_col: str | None, label_col: str, train_rows: int | None,
             train_file: Path | None, ignore: tuple[str, ...], method: str, alpha: float, trim: float, dwell: int,
             as_json: bool) -> None:
    """Score the anomaly detector on labelled CSVs (SKAB layout); per file and pooled metrics.

    For each FILE a baseline is trained on normal data and the remaining rows are scored;
    a row counts as alarmed when the alert state (with hysteresis) is not normal.
    Non-numeric columns and other label columns (changepoint) are ignored.
    """
    if train_rows is not None and train_file is not None:
        raise click.UsageError("give --train-rows or --train-file, not both")
    settings = DetectorSettings(method=cast(Method, method), alpha=alpha, dwell=dwell, ignore=ignore,
                                trim=trim or None)
    train = None
    if train_file is not None:
        with _user_errors("--train-file"):
            train = read_table(train_file, sep=_sniff_sep(train_file, sep), time_col=time_col)
    results: list[FileResult] = []
    for path in files:
        with _user_errors("FILES"):
            results.append(evaluate_file(path, sep=_sniff_sep(path, sep), time_col=time_col, label_col=label_col,
                                         train_rows=train_rows, train=train, settings=settings))
    pooled = sum((r.confusion for r in results), Confusion())
    if as_json:
        out = {"settings": {"method": method, "alpha": alpha, "trim": trim, "dwell": dwell, "label_col": label_col,
                            "train_rows": train_rows, "train_file": str(train_file) if train_file else None},
               "files": [r.as_dict() for r in results], "pooled": pooled_summary(results)}
        click.echo(json.dumps(out, indent=2))
        return
    table = RichTable(title=f"anomaly detection ({method}, alpha {alpha}, dwell {dwell})", box=box.SIMPLE_HEAD)
    for col in ("file", "train", "scored", "TP", "FP", "FN", "TN", "prec", "recall", "F1", "FAR", "MAR",
                "false alarms", "found", "delay"):
        table.add_column(col, justify="left" if col == "file" else "right")

    def row(name: str, c: Confusion, n_train: int, n_scored: int, false_alarms: int, found: str, delay: float | None,
            **style: Any) -> None:
        table.add_row(name, str(n_train), str(n_scored), str(c.tp), str(c.fp), str(c.fn), str(c.tn),
                      _fmt(c.precision), _fmt(c.recall), _fmt(c.f1), _fmt(c.false_alarm_rate),
                      _fmt(c.missed_alarm_rate), str(false_alarms), found, "–" if delay is None else f"{delay:.1f}",
                      **style)

    for r in results:
        d = r.as_dict()
        row(r.path.name, r.confusion, r.n_train, r.n_scored, r.false_alarm_episodes,
            f"{r.detected_segments}/{r.segments}", d["mean_detection_delay_rows"])
    if len(results) > 1:
        p = pooled_summary(results)
        row("pooled", pooled, p["train_rows"], p["scored_rows"], p["false_alarm_episodes"],
            f"{p['detected_segments']}/{p['anomaly_segments']}", p["mean_detection_delay_rows"], style="bold")
    console.print(table)
    console.print("[dim]FAR = FP/(FP+TN) false-alarm rate; MAR = FN/(FN+TP) missed-alarm rate (per row). "
                  "false alarms = alarms raised on a normal row; found = labelled segments alarmed; "
                  "delay = mean rows from segment start to its first alarm.[/]")


@pdm.command("evaluate-rul")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@sep_option
@click.option("--unit-col", default="unit", show_default=True, help="Unit (machine, run) id column.")
@click.option("--time-col", default="time", show_default=True, help="Time or cycle column (numeric, increasing).")
@click.option("--train-steps", type=click.IntRange(min=1), default=50, show_default=True,
              help="First rows of every unit taken as healthy for the baseline.")
@click.option("--failure-score", type=click.FloatRange(min=1, min_open=True), default=None,
              help="Failure threshold in control-limit units (default: leave-one-unit-out median end-of-life score).")
@method_option
@trim_option
@click.option("--level", type=click.FloatRange(0.5, 0.999), default=0.9, show_default=True,
              help="Confidence level of the RUL interval.")
@click.option("--max-rul", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Cap true and predicted RUL at this horizon (piecewise-linear target, Heimes 2008).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def evaluate_rul_cmd(file: Path, sep: str | None, unit_col: str, time_col: str, train_steps: int,
                     failure_score: float | None, method: str, trim: float, level: float, max_rul: float | None,
                     as_json: bool) -> None:
    """Score RUL predictions on run-to-failure data: RMSE and the PHM08 score.

    FILE has one row per unit and time step: a unit id, a time (or cycle) and numeric
    signals. Each unit runs to failure, so the true RUL of a row is the unit's last time
    minus the row's time. RUL is predicted at every row where the detector has seen a
    degradation trend; RMSE and the PHM08 score (d = predicted − true:
    exp(−d/13)−1 if d<0, exp(d/10)−1 otherwise; Saxena et al. 2008) are over those rows.
    """
    with _user_errors("FILE"):
        report = evaluate_rul(file, sep=_sniff_sep(file, sep), unit_col=unit_col, time_col=time_col,
                              train_steps=train_steps, method=cast(Method, method), failure_score=failure_score,
                              rul_level=level, max_rul=max_rul, trim=trim or None)
    summary = report.summary()
    per_unit = [{"unit": u.unit, "failure_time": u.failure_time, "first_alarm_time": u.first_alarm_time,
                 "lead_time": u.lead_time, "predictions": len(u.predicted),
                 "rmse": round(rmse(u.predicted, u.true_rul), 4) if len(u.predicted) else None,
                 "failure_score": round(report.failure_scores[u.unit], 4)} for u in report.units]
    if as_json:
        click.echo(json.dumps({"summary": summary, "units": per_unit}, indent=2))
        return
    table = RichTable(title=f"RUL on {file}", box=box.SIMPLE_HEAD)
    for col in ("unit", "failure at", "first alarm", "lead time", "predictions", "RMSE", "failure score"):
        table.add_column(col, justify="right")
    for u in per_unit:
        alarm = "–" if u["first_alarm_time"] is None else f"{u['first_alarm_time']:g}"
        lead = "–" if u["lead_time"] is None else f"{u['lead_time']:g}"
        table.add_row(str(u["unit"]), f"{u['failure_time']:g}", alarm, lead, str(u["predictions"]),
                      "–" if u["rmse"] is None else f"{u['rmse']:.1f}", f"{u['failure_score']:.1f}")
    console.print(table)
    for key, value in summary.items():
        console.print(f"{key:>20}: {value}")


@pdm.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--asset", required=True, help="Asset id the model is for (e.g. site/area/line/CNC-03).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Model folder (the service's model registry watches it).")
@sep_option
@click.option("--time-col", default=None, help="Timestamp column (default: datetime/timestamp/time/ts).")
@click.option("--label-col", default="anomaly", show_default=True,
              help="If present, rows labelled 1 are left out of training.")
@click.option("--ignore", multiple=True, help="A numeric column that is not a feature (repeatable).")
@click.option("--failure-score", type=click.FloatRange(min=1, min_open=True), default=100.0, show_default=True,
              help="Anomaly score (in control-limit units) taken as failure: health 0.")
@method_option
@alpha_option
@trim_option
def train(file: Path, asset: str, out_dir: Path, sep: str | None, time_col: str | None, label_col: str,
          ignore: tuple[str, ...], failure_score: float, method: str, alpha: float, trim: float) -> None:
    """Fit a baseline from a CSV of healthy feature rows and save it (next version) to --out."""
    with _user_errors("FILE"):
        table = read_table(file, sep=_sniff_sep(file, sep), time_col=time_col)
        names = signal_names(table, label_col, ignore)
        x = matrix(table, names)
        if label_col in table.columns:
            x = x[labels_of(table, label_col) == 0]
        times = table.times or []
        version = ModelRegistry(out_dir).next_version(asset) if out_dir.exists() else 1
        model = fit_baseline(x, names, asset=asset, method=cast(Method, method), alpha=alpha,
                             failure_score=failure_score, version=version, trim=trim or None,
                             train_start=times[0] if times else None,
                             train_end=times[-1] if times else None)
    with _user_errors("--out"):
        try:
            path = save_model(model, out_dir)
        except OSError as exc:
            raise click.BadParameter(f"{out_dir}: cannot write the model: {exc}", param_hint="--out") from None
    console.print(f"saved [bold]{asset}[/] version {version} ({method}, {len(names)} features, "
                  f"{model.info.n_train} rows, {model.info.n_trimmed} trimmed as outliers) to {path}")
    if model.info.dropped_features:
        dropped = ", ".join(model.info.dropped_features)
        console.print(f"[yellow]constant in the training data, not modelled:[/] {dropped}")


@pdm.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--machines", type=click.IntRange(1, 100), default=6, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth(out_dir: Path, machines: int, seed: int) -> None:
    """Write synthetic bearing data to try the other commands on (see analytics/pdm/synthetic.py).

    \b
    OUT_DIR/healthy.csv               two weeks healthy, for `train` / --train-file
    OUT_DIR/healthy-contaminated.csv  the same with 2 % upset rows (robustness of the baseline)
    OUT_DIR/run-N.csv                 healthy, then bearing degradation to failure, labelled (SKAB layout)
    OUT_DIR/cool-N.csv                healthy, then a cooling fault (+1.5 K at equal load), labelled
    OUT_DIR/normal-N.csv              four healthy weeks: false alarms per machine-week
    OUT_DIR/runs.csv                  the run-N data as runs to failure, for `evaluate-rul`
    """
    try:
        _write_synthetic(out_dir, machines, seed)
    except OSError as exc:
        raise click.BadParameter(f"{out_dir}: cannot write: {exc.strerror or exc}", param_hint="OUT_DIR") from None
    console.print(f"wrote {3 * machines + 3} files to {out_dir}")


def _write_synthetic(out_dir: Path, machines: int, seed: int) -> None:
    from analytics.pdm.synthetic import bearing_run, contaminate, cooling_fault_run, write_rul_csv, write_skab_csv

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    healthy = bearing_run(hours=14 * 24, seed=seed)
    write_skab_csv(out_dir / "healthy.csv", healthy)
    write_skab_csv(out_dir / "healthy-contaminated.csv", contaminate(healthy, seed=seed))
    runs = []
    for i in range(machines):
        onset = float(rng.uniform(7, 14) * 24)
        life = float(rng.uniform(4, 12) * 24)
        run = bearing_run(hours=1e9, onset_h=onset, failure_h=onset + life, seed=seed + 100 + i)
        runs.append(run)
        write_skab_csv(out_dir / f"run-{i + 1}.csv", run)
        write_skab_csv(out_dir / f"cool-{i + 1}.csv",
                       cooling_fault_run(hours=21 * 24, onset_h=onset, seed=seed + 300 + i))
        write_skab_csv(out_dir / f"normal-{i + 1}.csv", bearing_run(hours=28 * 24, seed=seed + 200 + i))
    write_rul_csv(out_dir / "runs.csv", runs)


plant_option = click.option("--plant", "plant_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                            help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")
models_option = click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False),
                             default=None, help="Model folder (default: $TWIN_STATE_DIR/models).")


def _settings_and_plant(plant_path: Path | None) -> tuple[Any, Any]:
    from twin.clirun import load_plant_file, load_settings

    settings = load_settings()
    return settings, load_plant_file(plant_path, settings)


def _parse_time(text: str, param: str) -> Any:
    from datetime import UTC, datetime

    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint=param) from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


@pdm.command("train-history")
@click.option("--asset", "asset_id", required=True, help="Asset id in the plant file (e.g. cnc-01).")
@click.option("--from", "start", required=True, help="Start of the healthy period, ISO 8601 (UTC if no zone).")
@click.option("--to", "end", required=True, help="End of the healthy period (exclusive).")
@plant_option
@models_option
@trim_option
def train_history(asset_id: str, start: str, end: str, plant_path: Path | None, models_dir: Path | None,
                  trim: float) -> None:
    """Learn an asset's baseline from its telemetry in InfluxDB and save it where `pdm run` picks it up.

    Uses the asset's `pdm:` section (signals, window, running gate, regimes) and
    TWIN_INFLUX_URL / TWIN_INFLUX_DB. A running service loads the new version without a restart.
    """
    import asyncio

    from analytics.pdm.history import train_from_history
    from twin.connect import influx_client
    from twin.errors import TwinError

    settings, plant = _settings_and_plant(plant_path)
    t0, t1 = _parse_time(start, "--from"), _parse_time(end, "--to")
    if t1 <= t0:
        raise click.BadParameter("must be after --from", param_hint="--to")
    try:
        path, asset = plant.asset(asset_id)
    except KeyError:
        raise click.BadParameter(f"no asset {asset_id!r} in the plant file", param_hint="--asset") from None
    config = pdm_config(asset)
    if config is None:
        raise click.BadParameter(f"asset {asset_id!r} has no pdm: section in the plant file", param_hint="--asset")
    out_dir = models_dir or Path(settings.state_dir) / "models"

    async def main() -> Any:
        async with influx_client(settings) as db:
            return await train_from_history(db, path, config, t0, t1, out_dir, trim=trim or None)

    try:
        trained = asyncio.run(main())
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    for t in trained:
        info = t.model.info
        console.print(f"saved [bold]{t.key}[/] version {info.version} ({info.method}, {len(info.feature_names)} "
                      f"features, {t.windows} windows, {info.n_trimmed} trimmed) to {t.path}")


@pdm.command("run")
@plant_option
@models_option
@click.option("--instance", default="1", show_default=True, help="Instance name (instances share the assets).")
def run_cmd(plant_path: Path | None, models_dir: Path | None, instance: str) -> None:
    """Run the PdM streaming service on its own: telemetry → health points and maintenance alerts."""
    from analytics.pdm.service import build_pdm
    from analytics.runtime import run_analytics
    from twin.clirun import run_service
    from twin.errors import TwinError

    settings, plant = _settings_and_plant(plant_path)
    try:
        analytic = build_pdm(plant, models_dir or Path(settings.state_dir) / "models")
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    if analytic is None:
        raise click.ClickException("no asset in the plant file has a pdm: section")
    console.print(f"pdm running on {len(analytic.assets)} assets, models in {analytic.model_dir}")
    run_service(run_analytics(settings, plant, [analytic], instance=instance))


@pdm.command("evaluate-sim")
@click.option("--scenario", "scenario_name", default="bearing-failure", show_default=True,
              help="Shipped scenario name (simulators/scenarios/) or a scenario file.")
@click.option("--seed", type=int, default=1, show_default=True, help="Simulator seed (first one with --runs).")
@click.option("--runs", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Runs with seeds seed, seed+1, …; figures are pooled.")
@click.option("--warmup-h", type=click.FloatRange(min=1), default=24.0, show_default=True,
              help="Healthy hours simulated before the scenario; baselines are learnt from them.")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Scenario hours to run (default: the scenario's duration).")
@click.option("--tick-s", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Simulator tick.")
@click.option("--dwell", type=click.IntRange(min=1), default=None, help="Hysteresis dwell (default: config's, 3).")
@click.option("--failure-score", type=click.FloatRange(min=1, min_open=True), default=None,
              help="Score taken as failure for RUL (default: config's, 100).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def evaluate_sim(scenario_name: str, seed: int, runs: int, warmup_h: float, hours: float | None, tick_s: float,
                 dwell: int | None, failure_score: float | None, as_json: bool) -> None:
    """Measure the PdM service on a simulator scenario: lead time, false alarms per machine-week, RUL error."""
    from analytics.pdm.simeval import evaluate_scenario
    from twin.errors import TwinError

    try:
        report = evaluate_scenario(scenario_name, seeds=list(range(seed, seed + runs)), warmup_h=warmup_h,
                                   hours=hours, tick_s=tick_s, dwell=dwell, failure_score=failure_score)
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = RichTable(title=f"pdm on scenario {report.scenario} (seeds {report.seeds[0]}–{report.seeds[-1]}, "
                            f"warm-up {warmup_h:g} h)", box=box.SIMPLE_HEAD)
    for col in ("machine", "fault", "healthy h", "false alarms", "delay h", "lead h", "alarm lead h", "RUL n",
                "RUL RMSE h", "RUL bias h"):
        table.add_column(col, justify="left" if col in ("machine", "fault") else "right")

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)

    for m in report.machines:
        d = m.as_dict()
        table.add_row(m.asset.rsplit("/", 1)[-1], m.fault or "", f(d["healthy_hours"]), str(m.false_alarms),
                      f(d["detection_delay_h"]), f(d["lead_time_h"]), f(d["alarm_lead_time_h"]),
                      str(d["rul_predictions"]), f(d["rul_rmse_h"]), f(d["rul_mean_error_h"]))
    console.print(table)
    for key, value in report.pooled().items():
        console.print(f"{key:>42}: {value}")
    console.print(f"{'elapsed_s':>42}: {report.elapsed_s:.1f}")
