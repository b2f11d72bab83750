"""Saved models reload and score identically; the registry picks up a newer model without restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analytics.pdm.errors import ModelError
from analytics.pdm.models import METHODS, fit_baseline
from analytics.pdm.store import ModelRegistry, load_model, save_model
from analytics.pdm.synthetic import SIGNALS, bearing_run

ASSET = "plant/machining/line-1/CNC-03"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    healthy = bearing_run(hours=7 * 24, seed=1).x
    test = bearing_run(hours=300, onset_h=50, failure_h=250, seed=2).x
    return healthy, test


@pytest.mark.parametrize("method", METHODS)
def test_saved_model_reloads_and_scores_identically(method: str, data: tuple[np.ndarray, np.ndarray],
                                                    tmp_path: Path) -> None:
    healthy, test = data
    model = fit_baseline(healthy, SIGNALS, asset=ASSET, method=method, train_start="2026-01-05T00:00:00Z",  # type: ignore[arg-type]
                         train_end="2026-01-12T00:00:00Z")
    path = save_model(model, tmp_path)
    again = load_model(path)
    np.testing.assert_array_equal(again.score(test), model.score(test))
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["asset"] == ASSET and side["method"] == method and side["version"] == 1
    assert side["feature_names"] == list(SIGNALS)
    assert side["train_start"] == "2026-01-05T00:00:00Z" and side["n_train"] + side["n_trimmed"] == len(healthy)
    assert {"numpy", "scikit-learn", "joblib", "python"} <= set(side["libraries"])


def test_corrupt_model_file_is_refused(data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    path = save_model(fit_baseline(data[0], SIGNALS, asset=ASSET), tmp_path)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="checksum"):
        load_model(path)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nothing.joblib")


def test_registry_picks_up_a_newer_version_without_restart(data: tuple[np.ndarray, np.ndarray],
                                                           tmp_path: Path) -> None:
    healthy, test = data
    registry = ModelRegistry(tmp_path, check_interval_s=0.0)
    assert registry.get(ASSET) is None and registry.next_version(ASSET) == 1
    save_model(fit_baseline(healthy, SIGNALS, asset=ASSET), tmp_path)
    first = registry.get(ASSET)
    assert first is not None and first.info.version == 1
    assert registry.get(ASSET) is first  # unchanged file: no reload
    assert registry.next_version(ASSET) == 2
    save_model(fit_baseline(healthy[: len(healthy) // 2], SIGNALS, asset=ASSET, version=2), tmp_path)
    second = registry.get(ASSET)
    assert second is not None and second.info.version == 2
    assert not np.array_equal(second.score(test), first.score(test))
    assert registry.assets() == [ASSET]


def test_registry_keeps_serving_when_a_new_file_is_broken(data: tuple[np.ndarray, np.ndarray],
                                                          tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, check_interval_s=0.0)
    save_model(fit_baseline(data[0], SIGNALS, asset=ASSET), tmp_path)
    good = registry.get(ASSET)
    broken = save_model(fit_baseline(data[0], SIGNALS, asset=ASSET, version=2), tmp_path)
    broken.write_bytes(b"not a pickle")
    assert registry.get(ASSET) is good
