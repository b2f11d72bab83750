"""The PdM service measured on the simulator's labelled scenarios: lead time, false alarms, RUL error.

`evaluate_scenario("bearing-failure")` runs `simulators.engine.PlantEngine` as fast as it
computes (no servers, no I/O) and feeds the readings of every machine with a PdM
configuration through the same `PdmAnalytic` the live service runs, auto-baseline
included. Then it compares the alert states and RUL estimates with the engine's
ground-truth labels (fault onset and failure time).

A healthy *warm-up* is simulated before the scenario (the scenario's faults are moved
later by `warmup_h`): the baseline is learnt from it, as a plant would learn it from weeks
of history before a fault. It must span both part programs the simulated CNCs alternate
between (about 2.5 h each), since features depend on spindle speed and load.

The plant files of the simulator (examples/plant-full.yaml) carry no `pdm:` sections, so
CNCs without one get `default_cnc_config()`: the mean and trend of the bearing-band energy
and the spindle temperature over coolant temperature (the nearest thing to the machine's
own ambient), measured only while the spindle turns, with one baseline per part program
(spindle speed and cutting load differ between programs). Measured on normal production
(seed 1, 16 h, per-program baselines on the first half): with vibration RMS, peak, crest,
kurtosis and current per load as well, 16–90 % of healthy windows were above the control
limit, because those features follow tool wear (cutting load rises 25 % over a tool's
life) and window peaks are heavy-tailed; with this set, 3–6 %.

Metrics, per machine and pooled:

- detection lead time: failure time − start of the first alert (warning or alarm) after
  onset, and the same for the first alarm;
- false alarms: alert episodes that start while the machine is healthy (machines without a
  fault, and machines with one before its onset), per machine-week of scored healthy time;
- RUL: RMSE and mean error (predicted − true, hours) of every window between onset and
  failure that has an estimate, and how often the interval contains the truth.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.pdm.config import PdmAssetConfig
from analytics.pdm.hysteresis import NORMAL
from analytics.pdm.plugin import pdm_config
from analytics.pdm.scorer import HealthResult
from analytics.pdm.service import PdmAnalytic
from twin.plant import Plant
from twin.topics import AssetPath

log = logging.getLogger(__name__)

# A Monday at midnight: fixed so that runs are reproducible (the shop-floor ambient follows the clock).
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
MACHINE_FAULTS = ("bearing_wear", "tool_wear")
HOURS_PER_WEEK = 168.0


def default_cnc_config(signals: set[str] | frozenset[str] = frozenset(), *, window_s: float = 600.0,
                       hop_s: float = 60.0, baseline_windows: int = 240) -> PdmAssetConfig | None:
    """The PdM configuration the evaluator gives a simulated CNC without a `pdm:` section (None if unusable)."""
    def has(name: str) -> bool:
        return not signals or name in signals

    trend = [s for s in ("bearing_band_energy",) if has(s)]
    temperature = [s for s in ("spindle_temp",) if has(s)]
    if not trend and not temperature:
        return None
    return PdmAssetConfig(
        component="spindle bearing", trend=trend, temperature=temperature,
        ambient="coolant_temp" if has("coolant_temp") and temperature else None,
        running_signal="spindle_speed" if has("spindle_speed") else None, running_above=0.0,
        regime_signal="program" if has("program") else None,
        window_s=window_s, hop_s=hop_s, baseline_windows=baseline_windows)


@dataclass
class Episode:
    """One alert episode: from the window that left normal to the one that returned (None: still up)."""

    start_s: float
    end_s: float | None
    worst: str


@dataclass
class MachineResult:
    """What the evaluation saw on one machine."""

    asset: str
    fault: str | None
    onset_s: float | None
    failure_s: float | None
    scored_from_s: float | None
    scored_windows: int
    healthy_hours: float
    false_alarms: int
    false_alarms_critical: int = 0
    detected_s: float | None = None
    alarm_s: float | None = None
    rul_errors_h: list[float] = field(default_factory=list)
    rul_covered: int = 0
    first_alert: str | None = None

    @property
    def lead_time_h(self) -> float | None:
        """Failure time − first alert after onset, hours."""
        if self.detected_s is None or self.failure_s is None:
            return None
        return (self.failure_s - self.detected_s) / 3600

    @property
    def alarm_lead_time_h(self) -> float | None:
        """Failure time − first alarm-level alert after onset, hours."""
        if self.alarm_s is None or self.failure_s is None:
            return None
        return (self.failure_s - self.alarm_s) / 3600

    @property
    def detection_delay_h(self) -> float | None:
        """First alert − onset, hours."""
        if self.detected_s is None or self.onset_s is None:
            return None
        return (self.detected_s - self.onset_s) / 3600

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        def iso(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")

        return {"asset": self.asset, "fault": self.fault, "onset": iso(self.onset_s), "failure": iso(self.failure_s),
                "scored_from": iso(self.scored_from_s), "scored_windows": self.scored_windows,
                "healthy_hours": round(self.healthy_hours, 3), "false_alarms": self.false_alarms,
                "false_alarms_critical": self.false_alarms_critical,
                "first_alert": iso(self.detected_s), "first_alarm": iso(self.alarm_s),
                "detection_delay_h": _r(self.detection_delay_h), "lead_time_h": _r(self.lead_time_h),
                "alarm_lead_time_h": _r(self.alarm_lead_time_h), "rul_predictions": len(self.rul_errors_h),
                "rul_rmse_h": _r(_rmse(self.rul_errors_h)), "rul_mean_error_h": _r(_mean(self.rul_errors_h)),
                "rul_interval_coverage": _r(self.rul_covered / len(self.rul_errors_h)) if self.rul_errors_h else None,
                "first_alert_message": self.first_alert}


@dataclass
class SimEvalReport:
    """All machines of all runs, and the pooled figures."""

    scenario: str
    seeds: list[int]
    warmup_h: float
    hours: float
    tick_s: float
    machines: list[MachineResult]
    elapsed_s: float

    def pooled(self) -> dict[str, Any]:
        """Pooled figures over every machine and run."""
        faulty = [m for m in self.machines if m.failure_s is not None]
        leads = [m.lead_time_h for m in faulty if m.lead_time_h is not None]
        alarm_leads = [m.alarm_lead_time_h for m in faulty if m.alarm_lead_time_h is not None]
        errors = [e for m in self.machines for e in m.rul_errors_h]
        covered = sum(m.rul_covered for m in self.machines)
        healthy_h = sum(m.healthy_hours for m in self.machines)
        false_alarms = sum(m.false_alarms for m in self.machines)
        weeks = healthy_h / HOURS_PER_WEEK
        return {
            "faults_with_failure": len(faulty), "detected_before_failure": len(leads),
            "lead_time_h_mean": _r(_mean(leads)), "lead_time_h_min": _r(min(leads)) if leads else None,
            "alarm_lead_time_h_mean": _r(_mean(alarm_leads)),
            "false_alarms": false_alarms,
            "false_alarms_critical": sum(m.false_alarms_critical for m in self.machines),
            "healthy_machine_weeks": round(weeks, 3),
            "false_alarms_per_machine_week": _r(false_alarms / weeks) if weeks > 0 else None,
            # Rule of three: with none seen, the 95 % upper bound of the rate is 3 / exposure.
            "false_alarms_per_machine_week_95_upper": _r(3 / weeks) if weeks > 0 and false_alarms == 0 else None,
            "rul_predictions": len(errors), "rul_rmse_h": _r(_rmse(errors)), "rul_mean_error_h": _r(_mean(errors)),
            "rul_interval_coverage": _r(covered / len(errors)) if errors else None,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly report."""
        return {"scenario": self.scenario, "seeds": self.seeds, "warmup_h": self.warmup_h, "hours": self.hours,
                "tick_s": self.tick_s, "elapsed_s": round(self.elapsed_s, 1),
                "machines": [m.as_dict() for m in self.machines], "pooled": self.pooled()}


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or math.isnan(v) else round(v, nd)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _rmse(xs: list[float]) -> float:
    return math.sqrt(sum(x * x for x in xs) / len(xs)) if xs else math.nan


def monitored_assets(plant: Plant, *, defaults: bool = True, window_s: float = 600.0, hop_s: float = 60.0,
                     baseline_windows: int = 240) -> dict[AssetPath, PdmAssetConfig]:
    """Assets with a `pdm:` section, plus (with `defaults`) every CNC without one, on the default config."""
    out: dict[AssetPath, PdmAssetConfig] = {}
    for path, asset in plant.assets():
        config = pdm_config(asset)
        if config is not None:
            out[path] = config
        elif defaults and asset.type == "cnc":
            cfg = default_cnc_config(set(asset.signals), window_s=window_s, hop_s=hop_s,
                                     baseline_windows=baseline_windows)
            if cfg is not None:
                out[path] = cfg
    return out


def _episodes(results: list[HealthResult]) -> list[Episode]:
    rank = {NORMAL: 0, "warning": 1, "alarm": 2}
    episodes: list[Episode] = []
    current: Episode | None = None
    for r in results:
        if r.state != NORMAL:
            if current is None:
                current = Episode(r.ts_s, None, r.state)
                episodes.append(current)
            elif rank.get(r.state, 1) > rank.get(current.worst, 1):
                current.worst = r.state
        elif current is not None:
            current.end_s = r.ts_s
            current = None
    return episodes


def run_once(scenario_name: str | Path, *, seed: int = 1, warmup_h: float = 8.0, hours: float | None = None,
             tick_s: float = 1.0, start: datetime = DEFAULT_START, model_dir: Path | None = None,
             hop_s: float = 60.0, window_s: float = 600.0, dwell: int | None = None,
             failure_score: float | None = None, trim: float | None = None) -> list[MachineResult]:
    """One simulated run of a scenario (after a healthy warm-up); a result per monitored machine."""
    # The simulator is imported here: the streaming service must not depend on it.
    from simulators.engine import PlantEngine
    from simulators.scenario import load_scenario

    scenario = load_scenario(str(scenario_name))
    plant = scenario.load_plant()
    warmup_s = warmup_h * 3600
    shifted = []
    for fault in scenario.faults:
        update: dict[str, float] = {"onset": fault.onset + warmup_s}
        if hasattr(fault, "failure"):
            update["failure"] = fault.failure + warmup_s
        shifted.append(fault.model_copy(update=update))
    run_s = (hours * 3600 if hours is not None else scenario.duration) + warmup_s
    scenario = scenario.model_copy(update={"faults": shifted, "duration": run_s})
    # One baseline per part program, each from part of the warm-up: the programs alternate
    # every ~2.5 h and windows come only while the spindle turns (~80 % of the time).
    baseline_windows = max(10, int(0.2 * warmup_s / hop_s))
    assets = monitored_assets(plant, window_s=window_s, hop_s=hop_s, baseline_windows=baseline_windows)
    overrides: dict[str, Any] = {}
    if dwell is not None:
        overrides["dwell"] = dwell
    if failure_score is not None:
        overrides["failure_score"] = failure_score
    if overrides:
        assets = {p: c.model_copy(update=overrides) for p, c in assets.items()}
    results: dict[AssetPath, list[HealthResult]] = {p: [] for p in assets}
    messages: dict[AssetPath, list[tuple[float, str]]] = {p: [] for p in assets}

    with tempfile.TemporaryDirectory(prefix="pdm-simeval-") as tmp:
        analytic = PdmAnalytic(assets, model_dir or Path(tmp), check_interval_s=3600.0, trim=trim,
                               on_result=lambda p, r: results[p].append(r))
        engine = PlantEngine(plant, scenario=scenario, seed=seed, tick_s=tick_s, start=start)
        signals = {p: sorted(c.signals()) for p, c in assets.items()}
        # Regime and running gate first, as the machine's own signal order has them.
        for p, c in assets.items():
            for gate in (c.running_signal, c.regime_signal):
                if gate:
                    signals[p].remove(gate)
                    signals[p].insert(0, gate)
        n_ticks = int(run_s / tick_s)
        for _ in range(n_ticks):
            frame = engine.step()
            t = frame.ts.timestamp()
            for path, names in signals.items():
                if path in frame.offline:
                    continue
                values = frame.values[path]
                batch: list[tuple[str, float, float | str]] = []
                for name in names:
                    v = values.get(name)
                    if v is None or isinstance(v, bool) or (path, name) in frame.status:
                        continue
                    batch.append((name, t, v if isinstance(v, str) else float(v)))
                out = analytic.feed(path, batch)
                for e in out.events:
                    if e.state.value == "firing":
                        messages[path].append((e.ts.timestamp(), e.message))
    labels = [lb for lb in engine.labels if lb.kind in MACHINE_FAULTS]
    return [_score_machine(path, results[path], messages[path], labels) for path in assets]


def _score_machine(path: AssetPath, results: list[HealthResult], messages: list[tuple[float, str]],
                   labels: list[Any]) -> MachineResult:
    mine = [lb for lb in labels if lb.asset == path.asset]
    label = mine[0] if mine else None
    onset_s = label.start.timestamp() if label else None
    failure_s = label.failure_time.timestamp() if label and label.failure_time else None
    scored_from = results[0].ts_s if results else None
    end_s = results[-1].ts_s if results else None
    episodes = _episodes(results)
    if scored_from is None or end_s is None:
        healthy_h = 0.0
    else:
        healthy_end = min(end_s, onset_s) if onset_s is not None else end_s
        healthy_h = max(0.0, healthy_end - scored_from) / 3600
    false = [e for e in episodes if onset_s is None or e.start_s < onset_s]
    m = MachineResult(asset=str(path), fault=label.kind if label else None, onset_s=onset_s, failure_s=failure_s,
                      scored_from_s=scored_from, scored_windows=len(results), healthy_hours=healthy_h,
                      false_alarms=len(false), false_alarms_critical=sum(e.worst == "alarm" for e in false))
    if onset_s is None:
        return m
    after = [e for e in episodes if e.start_s >= onset_s and (failure_s is None or e.start_s < failure_s)]
    if after:
        m.detected_s = after[0].start_s
        m.first_alert = next((text for t, text in messages if t >= m.detected_s), None)
    alarms = [r.ts_s for r in results if r.state == "alarm" and r.ts_s >= onset_s
              and (failure_s is None or r.ts_s < failure_s)]
    if alarms:
        m.alarm_s = alarms[0]
    if failure_s is not None:
        for r in results:
            if onset_s <= r.ts_s < failure_s and r.rul_hours is not None:
                true_h = (failure_s - r.ts_s) / 3600
                m.rul_errors_h.append(r.rul_hours - true_h)
                if r.rul_hours_low is not None and r.rul_hours_high is not None:
                    m.rul_covered += r.rul_hours_low <= true_h <= r.rul_hours_high
    return m


def evaluate_scenario(scenario_name: str | Path, *, seeds: list[int] | None = None, warmup_h: float = 8.0,
                      hours: float | None = None, tick_s: float = 1.0, **kwargs: Any) -> SimEvalReport:
    """Run a scenario once per seed and pool the results."""
    seeds = seeds or [1]
    started = time.perf_counter()
    machines: list[MachineResult] = []
    for seed in seeds:
        machines.extend(run_once(scenario_name, seed=seed, warmup_h=warmup_h, hours=hours, tick_s=tick_s, **kwargs))
    from simulators.scenario import load_scenario

    scenario = load_scenario(str(scenario_name))
    return SimEvalReport(scenario=scenario.name, seeds=seeds, warmup_h=warmup_h,
                         hours=hours if hours is not None else scenario.duration / 3600, tick_s=tick_s,
                         machines=machines, elapsed_s=time.perf_counter() - started)
