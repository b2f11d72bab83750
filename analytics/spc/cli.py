"""`twin spc`: control-chart analysis of a CSV file and ARL simulation, for quality engineers.

The group is registered in twin/cli.py; on its own: `python -c "from analytics.spc.cli import spc; spc()" ...`.
Human output uses rich tables; `--json` prints one JSON object on stdout instead.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from analytics.spc.analysis import Analysis, analyze
from analytics.spc.arl import ArlResult, simulate_arl
from analytics.spc.csvdata import read_samples
from analytics.spc.errors import SpcConfigError, SpcDataError, SpcError
from analytics.spc.phase1 import CHART_KINDS, ChartSpec
from analytics.spc.points import ChartPoint, Estimate
from analytics.spc.rules import parse_rules

_MAX_VIOLATION_ROWS = 40


def _fmt(x: float | None, digits: int = 6) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


@click.group(name="spc")
def spc() -> None:
    """Statistical process control: analyse measurements, design charts by ARL."""


ANALYZE_HELP = """Analyse a CSV of measurements: control limits, rule violations, capability.

\b
CSV format (header row required; column names are case-insensitive):
  variables charts (imr, xbar-r, xbar-s, ewma, cusum):
    value       the measurement (another column: --value-column)
    subgroup    optional label; rows with the same label form one subgroup
                (X̄ charts; without it, use --subgroup-size to cut consecutive rows)
    timestamp   optional, ISO 8601 (2026-11-26T08:00:00Z)
  attributes charts:
    defectives  nonconforming units (p, np)    defects  nonconformities (c, u)
    n or size   units inspected (p, u; np unless --sample-size; c assumes 1)
    timestamp   optional

\b
Limits come from --target/--sigma (known process mean and σ; for p, np, c, u the
standard p, c or u is --target) when given; otherwise they are estimated from the
data in Phase I (trial limits, drop points beyond them, recompute) and every point
is then charted against the final limits with the selected rules.
With --lsl and/or --usl, variables charts also report Cp, Cpk, Pp, Ppk, Cpm with
confidence intervals and a normality check.
"""


@spc.command(name="analyze", help=ANALYZE_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--chart", "chart", type=click.Choice(CHART_KINDS), required=True, help="chart type")
@click.option("--subgroup-size", type=click.IntRange(2, 25), help="X̄ charts: consecutive rows per subgroup")
@click.option("--sample-size", type=click.IntRange(1), help="np chart: units per sample when there is no n column")
@click.option("--value-column", default="value", show_default=True, help="column holding measurements")
@click.option("--rules", default="nelson", show_default=True,
              help="run rules: nelson, we, limits, none, or a list such as nelson1,nelson2,we4")
@click.option("--L", "width", type=float, help="limit width in σ (default 3; EWMA 2.814)")
@click.option("--lambda", "lam", type=float, default=0.1, show_default=True, help="EWMA smoothing constant λ")
@click.option("--ewma-limits", type=click.Choice(["exact", "asymptotic"]), default="exact", show_default=True,
              help="EWMA limits: exact time-varying or asymptotic")
@click.option("--k", type=float, default=0.5, show_default=True, help="CUSUM reference value, in σ")
@click.option("--h", type=float, default=5.0, show_default=True, help="CUSUM decision interval, in σ")
@click.option("--headstart", type=float, default=0.0, show_default=True,
              help="CUSUM fast initial response, fraction of H (0.5 is usual)")
@click.option("--target", type=float, help="known process mean (attributes: standard p, c or u)")
@click.option("--sigma", type=float, help="known process σ (within subgroup)")
@click.option("--lsl", type=float, help="lower specification limit")
@click.option("--usl", type=float, help="upper specification limit")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="confidence level of the capability intervals")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")
def analyze_cmd(file: str, chart: str, subgroup_size: int | None, sample_size: int | None, value_column: str,
                rules: str, width: float | None, lam: float, ewma_limits: str, k: float, h: float, headstart: float,
                target: float | None, sigma: float | None, lsl: float | None, usl: float | None, confidence: float,
                as_json: bool) -> None:
    try:
        spec = ChartSpec(kind=chart, L=width, rules=rules, lam=lam, ewma_limits=ewma_limits, k=k, h=h,
                         headstart=headstart)
        parse_rules(rules)  # surface option mistakes before reading the file
    except SpcConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        samples = read_samples(file, chart, subgroup_size=subgroup_size, sample_size=sample_size,
                               value_column=value_column)
    except SpcDataError as exc:
        raise click.BadParameter(str(exc), param_hint=f"FILE ({file})") from None
    try:
        result = analyze(spec, samples, target=target, sigma=sigma, lsl=lsl, usl=usl, confidence=confidence)
    except SpcDataError as exc:
        raise click.BadParameter(str(exc), param_hint=f"FILE ({file})") from None
    except SpcError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(_clean(result.as_dict()), indent=2))
        return
    _print_analysis(Console(), result, file)



def _clean(obj: Any) -> Any:
    """JSON has no NaN/Infinity: map them to null so the output stays strictly valid."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _limits_row(name: str, points: list[ChartPoint]) -> list[str]:
    lcls = {p.lcl for p in points}
    ucls = {p.ucl for p in points}
    last = points[-1]
    varying = len(lcls) > 1 or len(ucls) > 1
    note = "vary by point (last shown)" if varying else ""
    return [name, _fmt(last.center), _fmt(last.lcl), _fmt(last.ucl), note]


def _print_analysis(console: Console, result: Analysis, file: str) -> None:
    p1 = result.phase_one
    lim = p1.limits
    title = f"{result.spec.kind} chart of {file}: {len(result.points)} points"
    if result.subgroup_size and result.spec.kind in ("xbar-r", "xbar-s"):
        title += f", subgroups of {result.subgroup_size}"
    table = Table(title=title)
    for col in ("chart", "centre", "LCL", "UCL", "note"):
        table.add_column(col)
    points = list(result.points)
    if points:
        table.add_row(*_limits_row(points[0].chart, points))
        disp = [p.dispersion for p in points if p.dispersion is not None]
        if disp:
            table.add_row(*_limits_row(disp[0].chart, disp))
    console.print(table)
    src = "known (--target/--sigma)" if lim.source == "known" else "estimated (Phase I)"
    console.print(f"parameters {src}: centre {_fmt(lim.center)}"
                  + (f", σ {_fmt(lim.sigma)}" if lim.sigma is not None else ""))
    if p1.excluded:
        shown = ", ".join(map(str, p1.excluded[:30])) + (" …" if len(p1.excluded) > 30 else "")
        console.print(f"Phase I dropped {len(p1.excluded)} point(s) beyond the trial limits in {p1.iterations} "
                      f"iteration(s): {shown}")
    if not p1.converged:
        console.print("[yellow]Phase I did not converge: points still beyond the limits[/yellow]")

    violations = result.violations
    if not violations:
        console.print("[green]in control: no rule fired[/green]")
    else:
        by_rule = Table(title=f"violations: {len(violations)}")
        by_rule.add_column("rule")
        by_rule.add_column("count", justify="right")
        by_rule.add_column("meaning")
        descriptions = {v.rule: v.description for v in violations}
        for rule, count in sorted(result.violations_by_rule.items()):
            by_rule.add_row(rule, str(count), descriptions[rule])
        console.print(by_rule)
        detail = Table(title="violation detail" + (f" (first {_MAX_VIOLATION_ROWS})"
                                                   if len(violations) > _MAX_VIOLATION_ROWS else ""))
        for col in ("at point", "chart", "rule", "points", "time"):
            detail.add_column(col)
        for v in violations[:_MAX_VIOLATION_ROWS]:
            pts = ", ".join(map(str, v.indices)) if len(v.indices) <= 6 else f"{v.indices[0]}–{v.indices[-1]}"
            ts = v.timestamps[-1].isoformat() if v.timestamps and v.timestamps[-1] is not None else ""
            detail.add_row(str(v.index), v.chart, v.rule, pts, ts)
        console.print(detail)

    cap = result.capability
    if cap is not None:
        ct = Table(title=f"capability (n = {cap.n}, {round(cap.cpk.confidence * 100) if cap.cpk else 95}% CI)")
        for col in ("index", "value", "lower", "upper"):
            ct.add_column(col)
        for name, est in (("Cp", cap.cp), ("Cpk", cap.cpk), ("Pp", cap.pp), ("Ppk", cap.ppk), ("Cpm", cap.cpm)):
            if est is not None:
                ct.add_row(name, *(_fmt(x, 4) for x in _triple(est)))
        console.print(ct)
        console.print(f"mean {_fmt(cap.mean)}, σ within {_fmt(cap.sigma_within)}, σ overall {_fmt(cap.sigma_overall)}")
        if cap.normality is not None:
            nt = cap.normality
            console.print(f"normality ({nt.test}): statistic {nt.statistic:.4g}"
                          + (f", p = {nt.p_value:.3g}" if nt.p_value is not None else ""))
        for w in cap.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")


def _triple(e: Estimate) -> tuple[float, float | None, float | None]:
    return e.value, e.lower, e.upper


ARL_HELP = """Estimate the average run length (ARL) of a chart by simulation.

\b
Runs the project's own streaming chart (the code the SPC service uses) in Phase II with
μ = 0, σ = 1 on N(SHIFT, 1) data from the first sample (zero-state ARL) until its first
signal, RUNS times, and prints the mean run length and its Monte Carlo standard error.
  shewhart   individuals chart, limits ±L σ (L = 3), rules --rules (default: limits only)
  ewma       --lambda (0.1) and --L (2.814); --ewma-limits (default asymptotic, as in the
             published tables; `analyze` and the service default to exact limits)
  cusum      tabular CUSUM with --k (0.5) and --h (5), optional --headstart (FIR)

\b
Example: twin spc arl --chart cusum --k 0.5 --h 5 --shift 1 --runs 2000 --seed 1
"""


@spc.command(name="arl", help=ARL_HELP)
@click.option("--chart", type=click.Choice(["shewhart", "ewma", "cusum"]), required=True)
@click.option("--lambda", "lam", type=float, help="EWMA smoothing constant λ (default 0.1)")
@click.option("--L", "width", type=float, help="limit width in σ (Shewhart 3, EWMA 2.814)")
@click.option("--k", type=float, help="CUSUM reference value in σ (default 0.5)")
@click.option("--h", type=float, help="CUSUM decision interval in σ (default 5)")
@click.option("--headstart", type=float, help="CUSUM fast initial response, fraction of H")
@click.option("--ewma-limits", type=click.Choice(["exact", "asymptotic"]), help="EWMA limits (default asymptotic)")
@click.option("--rules", help="Shewhart: run rules on the chart (default: limits only)")
@click.option("--shift", type=float, required=True, help="mean shift in standard deviations (0 = in control)")
# Each run is simulated one sample at a time; a million runs already takes hours at ARL₀ 370.
@click.option("--runs", type=click.IntRange(2, 1_000_000), required=True, help="number of simulated runs")
@click.option("--seed", type=click.IntRange(min=0), help="random seed, >= 0 (reproducible results)")
@click.option("--max-run-length", type=click.IntRange(1), default=1_000_000, show_default=True,
              help="stop a run here without a signal (counted as censored)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def arl(chart: str, lam: float | None, width: float | None, k: float | None, h: float | None,
        headstart: float | None, ewma_limits: str | None, rules: str | None, shift: float, runs: int,
        seed: int | None, max_run_length: int, as_json: bool) -> None:
    wrong = {
        "shewhart": {"--lambda": lam, "--k": k, "--h": h, "--headstart": headstart, "--ewma-limits": ewma_limits},
        "ewma": {"--k": k, "--h": h, "--headstart": headstart, "--rules": rules},
        "cusum": {"--lambda": lam, "--L": width, "--ewma-limits": ewma_limits, "--rules": rules},
    }[chart]
    misplaced = [name for name, value in wrong.items() if value is not None]
    if misplaced:
        raise click.UsageError(f"{', '.join(misplaced)} do(es) not apply to --chart {chart}")
    options: dict[str, Any] = {}
    if chart == "shewhart":
        options = {"L": width, "rules": rules or "limits"}
    elif chart == "ewma":
        options = {"L": width, "lam": 0.1 if lam is None else lam, "ewma_limits": ewma_limits or "asymptotic"}
    else:
        options = {"k": 0.5 if k is None else k, "h": 5.0 if h is None else h,
                   "headstart": 0.0 if headstart is None else headstart}
    try:
        result = simulate_arl(chart, shift=shift, runs=runs, seed=seed, max_run_length=max_run_length, **options)
    except SpcError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(_clean(result.as_dict()), indent=2))
        return
    _print_arl(Console(), result)


def _print_arl(console: Console, r: ArlResult) -> None:
    params = ", ".join(f"{k} = {v}" for k, v in r.parameters.items())
    table = Table(title=f"ARL of the {r.chart} chart ({params}) at a {r.shift:g}σ shift")
    for col in ("arl", "std error", "95% CI", "sd of run length", "median", "runs", "censored"):
        table.add_column(col, justify="right")
    table.add_row(f"{r.arl:.2f}", f"{r.std_error:.2f}", f"{r.ci_low:.1f} – {r.ci_high:.1f}",
                  f"{r.sd_run_length:.1f}", f"{r.median_run_length:g}", str(r.runs), str(r.censored))
    console.print(table)
    console.print(f"seed {r.seed}, {r.elapsed_s:.1f} s")


@spc.command(name="run")
@click.option("--plant", "plant_path", type=click.Path(dir_okay=False), default=None,
              help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")
@click.option("--instance", default="1", show_default=True, help="Instance name (instances share the stream).")
@click.option("--capability-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Chart points of a product between capability points.")
@click.option("--clear-after", type=click.IntRange(min=1), default=25, show_default=True,
              help="Consecutive in-control chart points that clear a violation's alert.")
def run_cmd(plant_path: str | None, instance: str, capability_every: int, clear_after: int) -> None:
    """Run the SPC streaming service on its own: gauge measurements → chart points, capability, alerts.

    Charts every signal with an `spc:` section in the plant file (TWIN_MQTT_URL,
    TWIN_INFLUX_URL and TWIN_INFLUX_DB say where the broker and database are). Stops
    cleanly on Ctrl-C or SIGTERM.
    """
    from analytics.runtime import run_analytics
    from analytics.spc.service import build_spc
    from twin.clirun import load_plant_file, load_settings, run_service

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)
    analytic = build_spc(plant, capability_every=capability_every, clear_after=clear_after)
    if analytic is None:
        raise click.ClickException("no signal in the plant file has an spc: section")
    Console().print(f"spc running on {', '.join(analytic.characteristics)}")
    run_service(run_analytics(settings, plant, [analytic], instance=instance))
    Console(stderr=True).print(f"[dim]spc stopped; skipped {analytic.skipped}, "
                               f"duplicates ignored {analytic.duplicates}[/]")
