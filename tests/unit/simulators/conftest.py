"""Run the plant engine without servers: fast, deterministic series for scenario tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from simulators.engine import Frame, Label, PlantEngine
from simulators.scenario import DEFAULT_PLANT, Scenario, load_scenario
from twin.plant import Plant, load_plant
from twin.readings import Value

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
TICK_S = 5.0  # coarse enough to stay fast, fine enough for 40 s machining cycles


@dataclass
class Run:
    """Everything a scenario emitted, per (asset, signal), with the engine's labels."""

    series: dict[tuple[str, str], list[tuple[float, Value, str]]] = field(default_factory=dict)
    parts: dict[str, list[tuple[float, dict[str, Value]]]] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)

    def values(self, asset: str, signal: str, t0: float = 0, t1: float = float("inf")) -> list[Value]:
        """The values of a signal with t0 ≤ t < t1 (seconds into the run)."""
        return [v for t, v, _ in self.series[(asset, signal)] if t0 <= t < t1]

    def part_values(self, gauge: str, signal: str, t0: float = 0, t1: float = float("inf")) -> list[float]:
        """A gauge characteristic for the parts measured in [t0, t1)."""
        return [float(v[signal]) for t, v in self.parts.get(gauge, []) if t0 <= t < t1]  # type: ignore[arg-type]


@cache
def full_plant() -> Plant:
    """The shipped full example plant."""
    return load_plant(DEFAULT_PLANT)


def run_engine(scenario: Scenario | None, duration_s: float, *, seed: int = 1, keep_frames: bool = False,
               assets: frozenset[str] | None = None) -> Run:
    """Step a plant engine through duration_s of simulated time, recording the values of `assets` (or all)."""
    plant = scenario.load_plant() if scenario else full_plant()
    engine = PlantEngine(plant, scenario=scenario, seed=seed, tick_s=TICK_S, start=START)
    run = Run()
    for _ in range(int(duration_s / TICK_S)):
        frame = engine.step()
        for path, values in frame.values.items():
            if assets is not None and path.asset not in assets:
                continue
            for name, value in values.items():
                status = frame.status.get((path, name), "Good")
                run.series.setdefault((path.asset, name), []).append((frame.t_s, value, status))
        for part in frame.parts:
            run.parts.setdefault(part.asset.asset, []).append(((part.ts - START).total_seconds(), part.values))
        if keep_frames:
            run.frames.append(frame)
    run.labels = engine.labels
    return run


# Recording every signal of a 24 h run costs hundreds of MB; tests watch these assets.
WATCHED = frozenset({"cnc-01", "cnc-02", "imm-01", "comp-01", "comp-02", "meter-cnc-01", "meter-cnc-02",
                     "meter-comp-01", "meter-main", "meter-imm-01", "env-machining", "water-main"})


@cache
def scenario_run(name: str, seed: int = 1) -> Run:
    """A shipped scenario run over its whole duration (cached across tests)."""
    scenario = load_scenario(name)
    return run_engine(scenario, scenario.duration, seed=seed, keep_frames=False, assets=WATCHED)


@cache
def baseline_run(duration_s: float, seed: int = 1) -> Run:
    """The same plant without faults: the counterfactual each scenario is compared with."""
    return run_engine(None, duration_s, seed=seed, assets=WATCHED)
