"""One conformance check run against every streaming chart (river style), plus the modules' doctests."""

from __future__ import annotations

import doctest
import importlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.spc.charts import (
    CChart,
    Chart,
    CusumChart,
    EwmaChart,
    IndividualsChart,
    NpChart,
    PChart,
    UChart,
    XbarRChart,
    XbarSChart,
)
from analytics.spc.points import ChartPoint

T0 = datetime(2026, 11, 26, tzinfo=UTC)

# name: (constructor, observation generator (value, size), observations per point)
CHARTS: dict[str, tuple[Callable[[], Chart], Callable[[np.random.Generator], tuple[float, float | None]], int]] = {
    "imr": (lambda: IndividualsChart(mean=5.0, sigma=0.5), lambda r: (r.normal(5.0, 0.5), None), 1),
    "xbar-r": (lambda: XbarRChart(mean=5.0, sigma=0.5, n=4), lambda r: (r.normal(5.0, 0.5), None), 4),
    "xbar-s": (lambda: XbarSChart(mean=5.0, sigma=0.5, n=6, rules="we"), lambda r: (r.normal(5.0, 0.5), None), 6),
    "ewma": (lambda: EwmaChart(mean=5.0, sigma=0.5, lam=0.2, L=2.86), lambda r: (r.normal(5.0, 0.5), None), 1),
    "cusum": (lambda: CusumChart(mean=5.0, sigma=0.5, headstart=0.5), lambda r: (r.normal(5.0, 0.5), None), 1),
    "p": (lambda: PChart(p=0.05), lambda r: (float(r.binomial(80, 0.05)), 80.0), 1),
    "np": (lambda: NpChart(p=0.05, n=80), lambda r: (float(r.binomial(80, 0.05)), 80.0), 1),
    "c": (lambda: CChart(c=3.0), lambda r: (float(r.poisson(3.0)), None), 1),
    "u": (lambda: UChart(u=1.5), lambda r: (float(r.poisson(1.5 * 4)), 4.0), 1),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_every_chart_honours_the_streaming_contract(name: str) -> None:
    make, draw, per_point = CHARTS[name]
    chart = make()
    rng = np.random.default_rng(0)
    points: list[ChartPoint] = []
    for i in range(per_point * 60):
        value, size = draw(rng)
        out = chart.update(value, T0 + timedelta(seconds=i), size=size)
        assert (out is None) == ((i + 1) % per_point != 0)
        if out is not None:
            points.append(out)
    assert chart.count == len(points) == 60
    assert [p.index for p in points] == list(range(60))
    for p in points:
        assert math.isfinite(p.statistic) and p.sigma > 0
        assert p.lcl is not None and p.ucl is not None and p.lcl <= p.center <= p.ucl
        assert p.out_of_limits == (p.statistic > p.ucl or p.statistic < p.lcl or
                                   (p.statistic_lower is not None and p.statistic_lower > p.ucl))
        for v in p.all_violations:
            assert v.index == p.index and v.indices[-1] == p.index and len(v.timestamps) == len(v.indices)
        assert isinstance(p.as_dict()["violations"], list)
    # Constructor arguments are kept: repr names them and clone() starts from scratch.
    clone = chart.clone()  # type: ignore[attr-defined]
    assert repr(clone) == repr(chart) and clone.count == 0


@pytest.mark.parametrize("module", ["charts", "rules", "evaluator"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"analytics.spc.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
