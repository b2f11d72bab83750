"""Phase I estimation, the streaming evaluator with its warm-up, and the plant-model configuration."""

from __future__ import annotations

import itertools

import pydantic
import pytest

from analytics.spc.config import CharacteristicSpc
from analytics.spc.evaluator import SpcEvaluator
from analytics.spc.phase1 import ChartSpec, Samples, phase_one

CALM = [0.1, -0.3, 0.2, 0.4, -0.1, 0.0, -0.2, 0.3, -0.4, 0.1, 0.2, -0.3, 0.0, 0.1, -0.1, 0.3, -0.2, 0.2, -0.1, 0.0]


def test_phase_one_drops_an_outlier_and_recomputes() -> None:
    values = [*CALM[:10], 5.0, *CALM[10:]]
    result = phase_one(ChartSpec(kind="imr"), Samples.individuals(values))
    assert result.excluded == (10,)
    assert result.converged
    assert result.initial_limits.center == pytest.approx(sum(values) / len(values))
    assert result.limits.center == pytest.approx(sum(CALM) / len(CALM))
    # Moving ranges touching the dropped point are gone: 19 MRs of CALM minus the one across the gap.
    mrs = [abs(b - a) for a, b in itertools.pairwise(CALM)]
    mrs.pop(9)  # CALM[9] → CALM[10] were not adjacent in the data
    assert result.limits.details["mrbar"] == pytest.approx(sum(mrs) / len(mrs))
    assert result.limits.sigma < result.initial_limits.sigma  # type: ignore[operator]


def test_known_parameters_skip_phase_one() -> None:
    result = phase_one(ChartSpec(kind="imr"), Samples.individuals([0.0, 9.0, 0.0]), mean=1.0, sigma=2.0)
    assert (result.limits.center, result.limits.sigma, result.limits.source) == (1.0, 2.0, "known")
    assert result.excluded == () and result.iterations == 0


def test_evaluator_with_known_parameters_monitors_from_the_first_sample() -> None:
    ev = SpcEvaluator(CharacteristicSpc(chart="imr", center=10.0, sigma=0.1, rules="we"))
    assert ev.phase == "monitoring"
    point = ev.update(10.5)
    assert point is not None and [v.rule for v in point.violations] == ["we1"]


def test_evaluator_freezes_limits_after_its_baseline() -> None:
    ev = SpcEvaluator(CharacteristicSpc(chart="imr", baseline_points=20))
    assert [ev.update(v) for v in CALM[:19]] == [None] * 19
    assert ev.phase == "baseline" and ev.limits is None
    assert ev.update(CALM[19]) is None
    assert ev.phase == "monitoring"
    assert ev.limits is not None and ev.limits.center == pytest.approx(sum(CALM) / 20)
    assert len(ev.baseline_points) == 20
    frozen = ev.limits
    for _ in range(50):
        point = ev.update(3.0)  # a sustained shift must not drag the limits along
    assert point is not None and ev.limits == frozen
    assert point.center == pytest.approx(frozen.center)
    assert {v.rule for v in point.violations} >= {"nelson1", "nelson2"}


def test_evaluator_subgroups_and_attributes() -> None:
    xbar = SpcEvaluator(CharacteristicSpc(chart="xbar-r", subgroup_size=5, center=10.0, sigma=0.2))
    points = [xbar.update(v) for v in (10.0, 10.1, 9.9, 10.2, 9.8, 10.0)]
    assert [p is not None for p in points] == [False, False, False, False, True, False]
    p_ev = SpcEvaluator(CharacteristicSpc(chart="p", baseline_points=3))
    for d in (5, 10, 15):
        assert p_ev.update(d, size=100) is None
    point = p_ev.update(30, size=100)
    assert point is not None and point.center == pytest.approx(0.1)
    assert [v.rule for v in point.violations] == ["nelson1"]


def test_per_product_limits_override_the_defaults() -> None:
    cfg = CharacteristicSpc(chart="imr", center=10.0, sigma=0.1, lsl=9.7, usl=10.3,
                            products={"P-200": {"center": 20.0, "sigma": 0.2, "lsl": 19.4, "usl": 20.6}})
    assert SpcEvaluator(cfg, product="P-200").update(20.0).ucl == pytest.approx(20.6)  # type: ignore[union-attr]
    assert SpcEvaluator(cfg, product="other").update(10.0).ucl == pytest.approx(10.3)  # type: ignore[union-attr]
    with pytest.raises(pydantic.ValidationError, match="lsl"):
        CharacteristicSpc(chart="imr", usl=10.0, products={"X": {"lsl": 11.0}}).for_product("X")


@pytest.mark.parametrize(("fields", "message"), [
    ({"chart": "imr", "colour": "red"}, "Extra inputs are not permitted"),
    ({"chart": "xbar-r"}, "subgroup_size between 2 and 25"),
    ({"chart": "ewma", "subgroup_size": 3}, "subgroup_size must be 1"),
    ({"chart": "imr", "lsl": 2.0, "usl": 1.0}, "must be below usl"),
    ({"chart": "imr", "rules": "nelson9"}, "unknown rule"),
    ({"chart": "c", "sigma": 1.0}, "sigma has no meaning"),
    ({"chart": "p", "center": 2.0}, "0 < p < 1"),
    ({"chart": "hist"}, "chart"),
])
def test_configuration_errors_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        CharacteristicSpc.model_validate(fields)


def test_configuration_carries_chart_options_to_the_chart_spec() -> None:
    cfg = CharacteristicSpc.model_validate({"chart": "ewma", "ewma": {"lam": 0.2, "L": 2.86, "limits": "asymptotic"}})
    spec = cfg.chart_spec()
    assert (spec.kind, spec.lam, spec.width, spec.ewma_limits) == ("ewma", 0.2, 2.86, "asymptotic")


def test_reset_restarts_the_cusum_but_keeps_the_frozen_limits() -> None:
    ev = SpcEvaluator(CharacteristicSpc(chart="cusum", center=0.0, sigma=1.0))
    points = [ev.update(2.0) for _ in range(4)]
    assert points[-1] is not None and points[-1].violations[0].rule == "cusum_upper"
    ev.reset()
    after = ev.update(0.0)
    assert after is not None and after.statistic == 0.0 and after.violations == () and after.index == 0
    assert ev.limits is not None and (ev.limits.center, ev.limits.sigma) == (0.0, 1.0)
