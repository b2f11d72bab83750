"""A small synthetic degrading-bearing generator, for tests, demos and the measurements in README.md.

Each row is one feature window (default 10 min) of a machine with a rolling-element bearing:

- `load` — operating load 0.4..1.0, drawn per window (the process, not the machine);
- `vib_rms` (mm/s) — overall vibration, ∝ (1 + 0.2·load);
- `bpfo_band` — energy in the outer-race defect band;
- `vib_kurtosis` — impulsiveness, ≈ 3 while healthy;
- `temp_rise` (K over ambient) — grows with load;
- `current_per_load` (A per unit load).

Degradation starts at `onset_h` and makes the defect grow as D(t) = exp(λ (t − onset_h)),
the exponential law commonly used for bearing degradation (Gebraeel et al. 2005). The
band energy scales with D, RMS with 1 + 0.1 (D − 1), kurtosis with 3 + 0.6 √(D − 1), temperature
rise with 0.4 (D − 1) K and current per load with 1 + 0.005 (D − 1). *Failure* is D = `failure_ratio` (the
band energy 20× its healthy level by default), so λ = ln(failure_ratio) / (failure_h − onset_h).
Multiplicative noise is lognormal. Values are plausible in shape, not calibrated to a machine.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

SIGNALS: tuple[str, ...] = ("load", "vib_rms", "bpfo_band", "vib_kurtosis", "temp_rise", "current_per_load")
START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BearingRun:
    """One synthetic run: times (h from start), rows (signals in `SIGNALS` order), labels, ground truth."""

    t_h: np.ndarray
    x: np.ndarray
    anomaly: np.ndarray
    onset_h: float
    failure_h: float  # inf for a healthy machine

    @property
    def signals(self) -> tuple[str, ...]:
        """Column names of x."""
        return SIGNALS


def bearing_run(*, hours: float, onset_h: float = math.inf, failure_h: float = math.inf, hop_h: float = 1 / 6,
                failure_ratio: float = 20.0, noise: float = 0.08, seed: int = 0) -> BearingRun:
    """Generate windows from t=0 to min(hours, failure_h); healthy throughout when onset_h is inf.

    Labels: 1 from onset to failure (the SKAB convention: the anomaly lasts from the
    start of the fault), 0 before.
    """
    if math.isfinite(onset_h) and not onset_h < failure_h:
        raise ValueError("onset_h must be before failure_h")
    rng = np.random.default_rng(seed)
    end = min(hours, failure_h)
    t = np.arange(0.0, end + 1e-9, hop_h)
    n = len(t)
    if math.isfinite(onset_h):
        lam = math.log(failure_ratio) / (failure_h - onset_h)
        d = np.exp(lam * np.clip(t - onset_h, 0.0, None))
    else:
        d = np.ones(n)

    def jitter(scale: float) -> np.ndarray:
        return np.exp(rng.normal(0.0, scale, n))

    load = rng.uniform(0.4, 1.0, n)
    vib_rms = 2.0 * (1 + 0.2 * load) * (1 + 0.1 * (d - 1)) * jitter(noise)
    bpfo = 1.0 * (1 + 0.3 * load) * d * jitter(noise * 1.5)
    kurt = (3.0 + 0.6 * np.sqrt(d - 1)) * jitter(noise / 2)
    temp = (8.0 + 12.0 * load + 0.4 * (d - 1)) * jitter(noise / 2)
    cpl = 12.0 * (1 + 0.005 * (d - 1)) * jitter(noise / 4)
    x = np.column_stack([load, vib_rms, bpfo, kurt, temp, cpl])
    anomaly = (t >= onset_h).astype(int)
    return BearingRun(t_h=t, x=x, anomaly=anomaly, onset_h=onset_h, failure_h=failure_h)


def cooling_fault_run(*, hours: float, onset_h: float, offset_k: float = 1.5, noise: float = 0.08,
                      seed: int = 0) -> BearingRun:
    """A healthy bearing whose cooling degrades at onset_h: temperature rise +offset_k, nothing else.

    A fault that breaks the correlation between load and temperature rather than pushing
    one signal out of its range: +1.5 K is inside the healthy range of temp_rise across
    loads (≈ 12–21 K) but only ≈ 2.3 times its noise at a given load (σ ≈ 0.65 K), so
    only a detector that models the correlation can see it, and not on every window.
    """
    run = bearing_run(hours=hours, noise=noise, seed=seed)
    x = run.x.copy()
    after = run.t_h >= onset_h
    x[after, SIGNALS.index("temp_rise")] += offset_k
    return BearingRun(t_h=run.t_h, x=x, anomaly=after.astype(int), onset_h=onset_h, failure_h=math.inf)


def contaminate(run: BearingRun, *, fraction: float = 0.02, factor: float = 3.0, seed: int = 0) -> BearingRun:
    """Multiply vibration RMS and band energy of a random `fraction` of rows by `factor`, labels unchanged.

    Models a "healthy" training period with a few unnoticed upsets (a tool crash, a
    sensor knock), to measure how much each baseline is spoiled by them.
    """
    rng = np.random.default_rng(seed)
    x = run.x.copy()
    rows = rng.random(len(x)) < fraction
    for name in ("vib_rms", "bpfo_band"):
        x[rows, SIGNALS.index(name)] *= factor
    return BearingRun(t_h=run.t_h, x=x, anomaly=run.anomaly, onset_h=run.onset_h, failure_h=run.failure_h)


def write_skab_csv(path: Path | str, run: BearingRun) -> None:
    """Write a run in the SKAB layout: `;`-separated, `datetime` first, `anomaly` and `changepoint` last."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["datetime", *SIGNALS, "anomaly", "changepoint"])
        onset_row = int(np.argmax(run.anomaly)) if run.anomaly.any() else -1
        for i, (t, row, a) in enumerate(zip(run.t_h, run.x, run.anomaly, strict=True)):
            ts = (START + timedelta(hours=float(t))).strftime("%Y-%m-%d %H:%M:%S")
            w.writerow([ts, *(f"{v:.6g}" for v in row), float(a), float(i == onset_row)])


def write_rul_csv(path: Path | str, runs: list[BearingRun]) -> None:
    """Write runs to failure in the `evaluate-rul` layout: `unit,time,<signals>` (time in hours)."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["unit", "time", *SIGNALS])
        for unit, run in enumerate(runs, start=1):
            for t, row in zip(run.t_h, run.x, strict=True):
                w.writerow([unit, f"{t:.4f}", *(f"{v:.6g}" for v in row)])
