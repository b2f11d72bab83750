"""Window features: incremental values equal the batch formulas, windows slide, hops emit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.pdm.features import FeatureSpec, FeatureWindow, RollingMoments


def _kurtosis(x: np.ndarray) -> float:
    d = x - x.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2)


def test_rolling_moments_match_numpy_over_a_sliding_window() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_t(5, 3000) * 0.3 + 0.1
    m = RollingMoments()
    window = 200
    for i, v in enumerate(x):
        m.add(float(i), float(v))
        m.evict_before(i - window + 1)
    tail = x[-window:]
    assert m.count == window
    assert m.rms == pytest.approx(float(np.sqrt(np.mean(tail**2))), rel=1e-9)
    assert m.peak == pytest.approx(float(np.max(np.abs(tail))))
    assert m.crest == pytest.approx(float(np.max(np.abs(tail)) / np.sqrt(np.mean(tail**2))), rel=1e-9)
    assert m.kurtosis == pytest.approx(_kurtosis(tail), rel=1e-7)
    slope = np.polyfit(np.arange(len(x) - window, len(x), dtype=float), tail, 1)[0]
    assert m.slope_per_s == pytest.approx(float(slope), rel=1e-6, abs=1e-12)


def test_moments_keep_precision_with_a_large_offset() -> None:
    # 60 °C ± 0.01: raw power sums would lose the kurtosis to cancellation.
    rng = np.random.default_rng(2)
    x = 60.0 + 0.01 * rng.normal(size=5000)
    m = RollingMoments()
    for i, v in enumerate(x):
        m.add(float(i), float(v))
        m.evict_before(i - 999)
    assert m.kurtosis == pytest.approx(_kurtosis(x[-1000:]), rel=1e-6)
    assert m.mean == pytest.approx(float(x[-1000:].mean()), rel=1e-12)


def test_window_emits_at_hop_boundaries_with_all_feature_kinds() -> None:
    spec = FeatureSpec(vibration=("vib",), trend=("bearing_temp",), spectra=("spectrum",), n_bands=2,
                       temperature=("bearing_temp",), ambient="ambient", current="current", load="load")
    w = FeatureWindow(spec, window_s=60, hop_s=60)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    emitted = []
    for s in range(61):
        ts = t0 + timedelta(seconds=s)
        for signal, value in (("vib", 2.0 if s % 2 else -2.0), ("bearing_temp", 40.0 + s / 60),
                              ("ambient", 20.0), ("current", 10.0), ("load", 0.5),
                              ("spectrum", [1.0, 1.0, 2.0, 2.0]), ("state", "running")):
            v = w.update(signal, ts, value)
            if v is not None:
                emitted.append(v)
    assert len(emitted) == 1
    f = emitted[0].values
    assert emitted[0].ts == t0 + timedelta(seconds=60)
    assert f["vib_rms"] == pytest.approx(2.0)
    assert f["vib_crest"] == pytest.approx(1.0)
    assert f["vib_kurtosis"] == pytest.approx(1.0)  # a square wave: the least impulsive signal
    assert f["bearing_temp_slope_per_h"] == pytest.approx(60.0)  # 1 K per minute
    assert f["bearing_temp_rise"] == pytest.approx(40.0 + 29.5 / 60 - 20.0)
    assert f["current_per_load"] == pytest.approx(20.0)
    assert f["spectrum_band0"] == pytest.approx(2.0)
    assert f["spectrum_band1"] == pytest.approx(8.0)
    assert "state_mean" not in f


def test_window_forgets_old_samples_and_skips_gaps() -> None:
    w = FeatureWindow(FeatureSpec(vibration=("vib",)), window_s=10, hop_s=10)
    for t in range(10):
        w.update("vib", float(t), 100.0)
    for t in range(10, 20):
        w.update("vib", float(t), 1.0)
    v = w.update("vib", 20.0, 1.0)
    assert v is not None and v.values["vib_peak"] == pytest.approx(1.0)
    # A gap of an hour emits one vector (the window before the gap), not 360 stale ones.
    assert w.update("vib", 3620.0, 1.0) is not None
    assert w.update("vib", 3625.0, 1.0) is None


def test_idle_load_gives_nan_current_per_load() -> None:
    w = FeatureWindow(FeatureSpec(current="i", load="p", min_load=0.05), window_s=10, hop_s=10)
    w.update("i", 0.0, 3.0)
    w.update("p", 0.0, 0.0)
    assert math.isnan(w.features.values["current_per_load"])
