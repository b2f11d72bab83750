"""Capability indices and their confidence intervals against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.spc.capability import capability, normality_test
from analytics.spc.errors import SpcConfigError, SpcDataError

# Hand example: x = 9, 10, 11, 12, 13 → x̄ = 11, s² = (4+1+0+1+4)/4 = 2.5, s = 1.58114.
# Specs 4..16, target 10, σ_within = 1 (known).
VALUES = [9.0, 10.0, 11.0, 12.0, 13.0]


def test_indices_match_hand_computation() -> None:
    cap = capability(VALUES, lsl=4.0, usl=16.0, target=10.0, sigma_within=1.0)
    assert cap.mean == pytest.approx(11.0)
    assert cap.sigma_overall == pytest.approx(1.58114, abs=1e-5)
    assert cap.cp is not None and cap.cp.value == pytest.approx(2.0)  # 12 / 6
    assert cap.cpk.value == pytest.approx(5.0 / 3.0)  # min(16−11, 11−4) / 3
    assert cap.pp is not None and cap.pp.value == pytest.approx(12 / (6 * 1.58114), abs=1e-5)  # 1.26491
    assert cap.ppk.value == pytest.approx(5 / (3 * 1.58114), abs=1e-5)  # 1.05409
    # Cpm = 12 / (6·√(2.5 + (11 − 10)²)) = 12 / 11.2250 = 1.06904
    assert cap.cpm is not None and cap.cpm.value == pytest.approx(1.06904, abs=1e-5)


def test_confidence_intervals_match_hand_computation() -> None:
    cap = capability(VALUES, lsl=4.0, usl=16.0, target=10.0, sigma_within=1.0)
    # Cp: 2·√(χ²(0.025; 4)/4) = 2·√(0.484419/4) = 0.69599; 2·√(11.1433/4) = 3.33816.
    assert cap.cp is not None
    assert (cap.cp.lower, cap.cp.upper) == pytest.approx((0.69599, 3.33816), abs=1e-4)
    # Cpk (Bissell 1990): 5/3 ∓ 1.95996·√(1/45 + (5/3)²/8) = 5/3 ∓ 1.19130.
    assert (cap.cpk.lower, cap.cpk.upper) == pytest.approx((0.47536, 2.85797), abs=1e-4)
    assert cap.cpk.confidence == 0.95


def test_one_sided_spec_gives_one_sided_indices_only() -> None:
    cap = capability(VALUES, usl=16.0, sigma_within=1.0)
    assert cap.cp is None and cap.pp is None and cap.cpm is None
    assert cap.cpk.value == pytest.approx(5.0 / 3.0)  # Cpu


def test_non_normal_data_warns_and_normal_data_does_not() -> None:
    rng = np.random.default_rng(11)
    skewed = capability(rng.exponential(1.0, 300), lsl=-1.0, usl=10.0)
    assert skewed.normality is not None and not skewed.normality.normal
    assert any("do not look normal" in w for w in skewed.warnings)
    normal = capability(rng.normal(10.0, 1.0, 300), lsl=4.0, usl=16.0)
    assert normal.normality is not None and normal.normality.normal
    assert normal.warnings == ()


def test_small_samples_and_out_of_control_processes_warn() -> None:
    cap = capability(VALUES, lsl=4.0, usl=16.0, in_control=False)
    assert any("only 5 measurements" in w for w in cap.warnings)
    assert any("not in statistical control" in w for w in cap.warnings)


def test_large_samples_use_anderson_darling() -> None:
    result = normality_test(np.random.default_rng(2).normal(size=6000))
    assert result is not None and result.test == "anderson-darling" and result.normal


def test_capability_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(SpcConfigError, match="at least one specification limit"):
        capability(VALUES)
    with pytest.raises(SpcConfigError, match="below USL"):
        capability(VALUES, lsl=5.0, usl=5.0)
    with pytest.raises(SpcDataError, match="vary"):
        capability([1.0, 1.0, 1.0], lsl=0.0, usl=2.0)
