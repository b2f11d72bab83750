"""`twin spc`: CSV chart analysis, ARL simulation, the streaming service and its stored limits (`limits`).

The group is registered in twin/cli.py; on its own: `python -c "from analytics.spc.cli import spc; spc()" ...`.
Human output uses rich tables; `--json` prints one JSON object on stdout instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from analytics.spc.analysis import Analysis, analyze
from analytics.spc.arl import ArlResult, simulate_arl
from analytics.spc.config import CharacteristicSpc
from analytics.spc.csvdata import read_samples
from analytics.spc.errors import SpcConfigError, SpcDataError, SpcError
from analytics.spc.phase1 import ATTRIBUTES_CHARTS, CHART_KINDS, ChartSpec
from analytics.spc.points import ChartPoint, Estimate
from analytics.spc.rules import parse_rules
from analytics.spc.store import (
    LimitsKey,
    LimitsRecord,
    LimitsStore,
    SpcStoreError,
    StoredLimits,
    compatible,
    limits_path,
    location_limits,
    make_record,
    manual_limits,
)
from twin.topics import AssetPath

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
    TWIN_INFLUX_URL and TWIN_INFLUX_DB say where the broker and database are). Frozen
    limits are kept in $TWIN_STATE_DIR/spc-limits.sqlite (see `twin spc limits`) and every
    chart's state in $TWIN_STATE_DIR/analytics-state.sqlite, so a restart (even after
    kill -9) continues the charts without a new Phase I. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from analytics.runtime import run_analytics
    from analytics.spc.service import build_spc
    from twin.clirun import load_plant_file, load_settings, run_service

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)
    analytic = build_spc(plant, capability_every=capability_every, clear_after=clear_after,
                         limits=LimitsStore(limits_path(settings.state_dir)),
                         actor=f"twin spc run --instance {instance}")
    if analytic is None:
        raise click.ClickException("no signal in the plant file has an spc: section")
    Console().print(f"spc running on {', '.join(analytic.characteristics)}")
    run_service(run_analytics(settings, plant, [analytic], instance=instance))
    Console(stderr=True).print(f"[dim]spc stopped; skipped {analytic.skipped}, "
                               f"duplicates ignored {analytic.duplicates}[/]")


# -- twin spc limits ------------------------------------------------------------------------

LIMITS_HELP = """The frozen control limits the SPC service charts against, and their audit trail.

\b
The service freezes a chart's limits after its Phase I baseline and stores them with the
data they came from; after a restart it charts against them (no new Phase I). A quality
engineer can fix them by hand (`set`) or forget them (`reset`: a new Phase I on the next
data); every change is recorded with who, when and why (`show` lists the history). A
running service takes a change within seconds. Limits given in the plant file
(`center`/`sigma` in the spc: section) are not stored here: change them there.

\b
CHARACTERISTIC is ASSET/SIGNAL, e.g. gauge-cnc-01/bore_diameter_mm; --product names the
product when the asset has a product signal. The file is $TWIN_STATE_DIR/spc-limits.sqlite.

\b
  twin spc limits list
  twin spc limits show gauge-cnc-01/bore_diameter_mm
  twin spc limits set gauge-cnc-01/bore_diameter_mm --center 20.0 --sigma 0.003 --by "J. Wang" --reason "MSA 2026-11"
  twin spc limits set gauge-cnc-01/length_mm --cl 50 --ucl 50.03 --lcl 49.97 --by "J. Wang" --reason "customer spec"
  twin spc limits reset gauge-cnc-01/bore_diameter_mm --by "J. Wang" --reason "new spindle, re-baseline"
"""


@dataclass(frozen=True)
class _Charted:
    """A characteristic of the plant file that the SPC service charts."""

    path: AssetPath
    name: str
    config: CharacteristicSpc
    has_products: bool

    @property
    def label(self) -> str:
        return f"{self.path.asset}/{self.name}"

    def key(self, product: str | None) -> LimitsKey:
        return LimitsKey(str(self.path), self.name, product)


def _charted(plant_path: str | None) -> tuple[list[_Charted], LimitsStore]:
    from analytics.spc.plugin import characteristic
    from twin.clirun import load_plant_file, load_settings

    settings = load_settings()
    plant = load_plant_file(plant_path, settings)
    out = []
    for path, asset in plant.assets():
        for name, signal in asset.signals.items():
            cfg = characteristic(signal)
            if cfg is not None:
                out.append(_Charted(path, name, cfg, asset.product_signal is not None))
    return out, LimitsStore(limits_path(settings.state_dir))


def _find(charted: list[_Charted], text: str, product: str | None) -> _Charted:
    parts = text.strip().strip("/").split("/")
    found = None
    if len(parts) >= 2:
        asset, name = "/".join(parts[:-1]), parts[-1]
        found = next((c for c in charted if c.name == name and asset in (c.path.asset, str(c.path))), None)
    if found is None:
        known = ", ".join(c.label for c in charted) or "none (no signal has an spc: section)"
        raise click.ClickException(f"unknown characteristic {text!r} (give ASSET/SIGNAL); charted: {known}")
    if product is not None and not found.has_products:
        raise click.ClickException(f"{found.path.asset} names no product (it has no product_signal); omit --product")
    return found


def _known(c: _Charted, product: str | None) -> bool:
    cfg = c.config.for_product(product)
    return cfg.center is not None and (cfg.chart in ATTRIBUTES_CHARTS or cfg.sigma is not None)


def _in_force(c: _Charted, stored: StoredLimits) -> tuple[float | None, float | None, float | None] | None:
    """CL, LCL, UCL the stored limits give with the plant file's chart design now (None: not usable)."""
    cfg = c.config.for_product(stored.key.product)
    if not compatible(stored.record, cfg):
        return None
    try:
        return location_limits(cfg, stored.record.limits())
    except SpcError:
        return None


def _where(r: LimitsRecord) -> str:
    if r.source != "estimated":
        return "set by hand"
    first = r.first_ts.isoformat() if r.first_ts else "?"
    last = r.last_ts.isoformat() if r.last_ts else "?"
    return f"Phase I on {r.points} points ({r.samples} measurements), {first} to {last}"


def _at(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@spc.group(name="limits", help=LIMITS_HELP)
def limits_group() -> None:
    pass


_plant_option = click.option("--plant", "plant_path", type=click.Path(dir_okay=False), default=None,
                             help="Plant file (default: $TWIN_PLANT_FILE or examples/plant.yaml).")
_product_option = click.option("--product", default=None, help="The product (assets with a product signal).")


@limits_group.command(name="list")
@_plant_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def limits_list(plant_path: str | None, as_json: bool) -> None:
    """Every charted characteristic and the limits in force for it."""
    charted, store = _charted(plant_path)
    try:
        stored = store.all()
    except SpcStoreError as exc:
        raise click.ClickException(str(exc)) from None
    rows: list[dict[str, Any]] = []
    for c in charted:
        mine = [s for s in stored if s.key.asset == str(c.path) and s.key.characteristic == c.name]
        for s in mine:
            force = _in_force(c, s)
            rows.append({"characteristic": c.label, "product": s.key.product, "chart": s.record.chart,
                         "status": s.record.source if force is not None else "not used (chart changed)",
                         "center": s.record.center, "sigma": s.record.sigma,
                         "cl": force[0] if force else None, "lcl": force[1] if force else None,
                         "ucl": force[2] if force else None, "revision": s.revision, "action": s.action,
                         "at": s.at.isoformat(), "by": s.by})
        if not any(s.key.product is None for s in mine):
            cfg = c.config
            status = "plant file" if _known(c, None) else "none yet (Phase I)"
            rows.append({"characteristic": c.label, "product": None, "chart": cfg.chart, "status": status,
                         "center": cfg.center, "sigma": cfg.sigma, "cl": None, "lcl": None, "ucl": None,
                         "revision": None, "action": None, "at": None, "by": None})
    if as_json:
        click.echo(json.dumps(_clean(rows), indent=2))
        return
    table = Table(title=f"SPC limits ({store.path})")
    for col in ("characteristic", "chart", "limits", "CL", "LCL", "UCL", "σ", "changed"):
        table.add_column(col)
    for r in rows:
        changed = f"rev {r['revision']}, {r['by']}, {_at(datetime.fromisoformat(r['at']))}" if r["at"] else ""
        table.add_row(r["characteristic"] + (f" [{r['product']}]" if r["product"] else ""), r["chart"], r["status"],
                      _fmt(r["cl"] if r["cl"] is not None else r["center"]), _fmt(r["lcl"]), _fmt(r["ucl"]),
                      _fmt(r["sigma"]), changed)
    Console().print(table)


@limits_group.command(name="show")
@click.argument("characteristic_id", metavar="CHARACTERISTIC")
@_product_option
@_plant_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")
def limits_show(characteristic_id: str, product: str | None, plant_path: str | None, as_json: bool) -> None:
    """The limits in force for one characteristic (and product), with their history."""
    charted, store = _charted(plant_path)
    c = _find(charted, characteristic_id, product)
    key = c.key(product)
    try:
        stored, history = store.get(key), store.history(key)
    except SpcStoreError as exc:
        raise click.ClickException(str(exc)) from None
    force = _in_force(c, stored) if stored is not None else None
    if as_json:
        click.echo(json.dumps(_clean({
            "characteristic": c.label, "product": product, "known": _known(c, product),
            "limits": stored.as_dict() if stored is not None else None,
            "in_force": dict(zip(("cl", "lcl", "ucl"), force, strict=True)) if force is not None else None,
            "history": [h.as_dict() for h in history]}), indent=2))
        return
    title = key.label.replace(str(c.path), c.path.asset)
    if _known(c, product):
        cfg = c.config.for_product(product)
        click.echo(f"{title}: limits from the plant file: centre {_fmt(cfg.center)}"
                      + (f", σ {_fmt(cfg.sigma)}" if cfg.sigma is not None else ""))
    elif stored is None:
        click.echo(f"{title}: no limits stored; the SPC service estimates them in Phase I from its next "
                      f"{c.config.for_product(product).baseline_points} chart points")
    else:
        r = stored.record
        click.echo(f"{title}: {r.chart} chart, centre {_fmt(r.center)}"
                      + (f", σ {_fmt(r.sigma)}" if r.sigma is not None else "")
                      + (f"; CL {_fmt(force[0])}, LCL {_fmt(force[1])}, UCL {_fmt(force[2])}" if force else
                         "; not used: the plant file now has another chart or subgroup size"))
        click.echo(f"{_where(r)}; revision {stored.revision}: {stored.action} by {stored.by} at "
                      f"{_at(stored.at)} ({stored.reason})")
    if not history:
        return
    table = Table(title="history")
    for col in ("rev", "at", "action", "by", "reason", "centre", "σ", "CL", "LCL", "UCL"):
        table.add_column(col)
    for h in history:
        r2 = h.record
        table.add_row(str(h.id), _at(h.at), h.action, h.by, h.reason,
                      *(("",) * 5 if r2 is None else
                        (_fmt(r2.center), _fmt(r2.sigma), _fmt(r2.cl), _fmt(r2.lcl), _fmt(r2.ucl))))
    Console().print(table)


@limits_group.command(name="set")
@click.argument("characteristic_id", metavar="CHARACTERISTIC")
@_product_option
@click.option("--center", type=float, help="process mean (p, c, u: the standard p̄, c̄, ū)")
@click.option("--sigma", type=float, help="within-subgroup process σ (variables charts)")
@click.option("--cl", type=float, help="centre line of the location chart (with --ucl and --lcl)")
@click.option("--ucl", type=float, help="upper control limit of the location chart")
@click.option("--lcl", type=float, help="lower control limit of the location chart")
@click.option("--by", "by", required=True, help="who makes the change (recorded)")
@click.option("--reason", required=True, help="why (recorded)")
@_plant_option
def limits_set(characteristic_id: str, product: str | None, center: float | None, sigma: float | None,
               cl: float | None, ucl: float | None, lcl: float | None, by: str, reason: str,
               plant_path: str | None) -> None:
    """Fix the limits of a characteristic by hand: the estimate (--center, --sigma) or CL, UCL and LCL.

    With one of --center/--sigma alone the other is kept from the stored limits. The
    chart restarts against the new limits (its run rules, EWMA and CUSUM from scratch).
    """
    charted, store = _charted(plant_path)
    c = _find(charted, characteristic_id, product)
    if _known(c, product):
        raise click.ClickException(f"{c.label}: its limits come from the plant file (center/sigma in its spc: "
                                   "section); change them there")
    cfg = c.config.for_product(product)
    key = c.key(product)
    try:
        current = store.get(key)
        compatible_current = current.record if current is not None and compatible(current.record, cfg) else None
        limits = manual_limits(cfg, center=center, sigma=sigma, cl=cl, ucl=ucl, lcl=lcl, current=compatible_current)
        stored = store.put(key, make_record(cfg, limits, source="manual"), action="set", by=by, reason=reason)
    except SpcError as exc:
        raise click.ClickException(f"{c.label}: {exc}") from None
    r = stored.record
    click.echo(f"{key.label}: limits set (revision {stored.revision}): centre {_fmt(r.center)}"
                    + (f", σ {_fmt(r.sigma)}" if r.sigma is not None else "")
                    + f"; CL {_fmt(r.cl)}, LCL {_fmt(r.lcl)}, UCL {_fmt(r.ucl)}. A running SPC service charts "
                      "against them within seconds, a stopped one from its next start.")


@limits_group.command(name="reset")
@click.argument("characteristic_id", metavar="CHARACTERISTIC")
@_product_option
@click.option("--by", "by", required=True, help="who makes the change (recorded)")
@click.option("--reason", required=True, help="why (recorded)")
@_plant_option
def limits_reset(characteristic_id: str, product: str | None, by: str, reason: str, plant_path: str | None) -> None:
    """Forget the stored limits of a characteristic: the SPC service runs a new Phase I on its next data."""
    charted, store = _charted(plant_path)
    c = _find(charted, characteristic_id, product)
    if _known(c, product):
        raise click.ClickException(f"{c.label}: its limits come from the plant file (center/sigma in its spc: "
                                   "section); change them there")
    key = c.key(product)
    try:
        change = store.reset(key, by=by, reason=reason)
    except SpcError as exc:
        raise click.ClickException(f"{c.label}: {exc}") from None
    if change is None:
        raise click.ClickException(f"{key.label}: no limits stored, nothing to reset")
    click.echo(f"{key.label}: limits reset (revision {change.id}); the SPC service runs a new Phase I on the "
                    f"next {c.config.for_product(product).baseline_points} chart points")
