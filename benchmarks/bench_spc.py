"""SPC throughput: samples per second through the streaming evaluator, all Nelson rules on.

Run with `.venv/bin/python -m pytest benchmarks/bench_spc.py -s` (not part of the default
test run). Each figure is printed with a same-run baseline (a bare Python loop doing only a
3σ comparison per sample), because these machines are noisy: ratios travel, absolute
numbers do not.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from analytics.spc.config import CharacteristicSpc
from analytics.spc.evaluator import SpcEvaluator

N = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _data() -> tuple[list[float], list[datetime]]:
    values = (10.0 + 0.1 * np.random.default_rng(42).standard_normal(N)).tolist()
    return values, [T0 + timedelta(seconds=i) for i in range(N)]


def _baseline_rate(values: list[float]) -> float:
    t = time.perf_counter()
    hits = 0
    for x in values:
        if abs(x - 10.0) > 0.3:
            hits += 1
    return len(values) / (time.perf_counter() - t)


CONFIGS: dict[str, dict[str, Any]] = {
    "imr-nelson": {"chart": "imr", "rules": "nelson", "center": 10.0, "sigma": 0.1},
    "xbar-r-n5-nelson": {"chart": "xbar-r", "subgroup_size": 5, "rules": "nelson", "center": 10.0, "sigma": 0.1},
    "ewma": {"chart": "ewma", "center": 10.0, "sigma": 0.1},
    "cusum": {"chart": "cusum", "center": 10.0, "sigma": 0.1},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_streaming_evaluator_throughput(benchmark: Any, name: str) -> None:
    values, stamps = _data()
    config = CharacteristicSpc.model_validate(CONFIGS[name])

    def run() -> int:
        ev = SpcEvaluator(config)
        update = ev.update
        points = 0
        for x, ts in zip(values, stamps, strict=True):
            if update(x, ts) is not None:
                points += 1
        return points

    points = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    rate = N / benchmark.stats.stats.mean
    base = _baseline_rate(values)
    print(f"\nspc {name}: {rate:,.0f} samples/s through SpcEvaluator.update "
          f"(bare 3σ loop baseline {base:,.0f}/s, {base / rate:.0f}x)")
    assert points == (N // 5 if name.startswith("xbar") else N)
