"""PdM across a restart: feature windows, baseline learning, hysteresis and RUL continue as without it.

The reference is one analytic fed everything; the other is fed the first part,
snapshotted, and a fresh analytic (same model folder) restored from those bytes is fed the
rest, with the last readings before the cut delivered again.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest

from analytics.pdm.service import PdmAnalytic
from analytics.pdm.store import load_model, save_model
from analytics.runtime import Checkpointed, Output
from analytics.state import SnapshotError, decode_snapshot, encode_snapshot
from tests.unit.pdm.test_service import ASSET, CONFIG, readings, run
from twin.events import EventState
from twin.readings import Reading


def history() -> list[Reading]:
    """Healthy (the auto-baseline learns on it), then a growing bearing defect: warning, alarm, RUL."""
    return [*readings(1800), *readings(2 * 3600, start_s=1800, seed=4, growth_per_h=1.5)]


def events(out: Output) -> list[bytes]:
    return [e.encode() for e in out.events]


def state_of(analytic: PdmAnalytic) -> dict[str, Any]:
    return decode_snapshot(analytic.snapshot(), "pdm", 1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Output:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path_factory.mktemp("models"), alert_refresh_s=0)
    out = run(analytic, iter(history()))
    assert any(e.state is EventState.FIRING for e in out.events)
    return out


@pytest.mark.parametrize("cut_s", [300, 1500, 3700, 4400], ids=["learning", "scoring", "warning", "alarm"])
def test_windows_scores_and_alerts_continue_exactly_across_a_restart(tmp_path: Path, reference: Output,
                                                                      cut_s: int) -> None:
    data = history()
    cut = 3 * cut_s + 1  # mid-second: one signal of that second before the restart, two after
    first = PdmAnalytic({ASSET: CONFIG}, tmp_path, alert_refresh_s=0)
    assert isinstance(first, Checkpointed)
    got = run(first, iter(data[:cut]))
    saved = first.snapshot()
    resumed = PdmAnalytic({ASSET: CONFIG}, tmp_path, alert_refresh_s=0)
    resumed.restore(saved)
    got.extend(run(resumed, iter(data[cut - 90:])))  # the last 30 s delivered again

    assert got.lines == reference.lines
    assert events(got) == events(reference)
    assert resumed.duplicates == 90
    window = decode_snapshot(saved, "pdm", 1)["assets"][0]["features"]["window"]
    assert sum(len(m["samples"]) for m in window["scalars"].values()) > 0  # a window in progress was carried


def test_a_dwell_streak_in_progress_is_not_lost(tmp_path: Path, reference: Output) -> None:
    """Cut where the hysteresis is counting towards a new state: the alert fires when it would have."""
    data = history()
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path / "probe", alert_refresh_s=0)
    cut = None
    run(analytic, iter(data[:3 * 1999]))
    for k in itertools.count(2000):
        run(analytic, iter(data[3 * (k - 1):3 * k]))
        if k % 10 == 0 and state_of(analytic)["assets"][0]["scorer"]["state"]["hysteresis"]["count"] > 5:
            cut = 3 * k
            break
    first = PdmAnalytic({ASSET: CONFIG}, tmp_path / "models", alert_refresh_s=0)
    got = run(first, iter(data[:cut]))
    resumed = PdmAnalytic({ASSET: CONFIG}, tmp_path / "models", alert_refresh_s=0)
    resumed.restore(first.snapshot())
    got.extend(run(resumed, iter(data[cut:])))
    assert events(got) == events(reference) and got.lines == reference.lines


def test_a_model_replaced_while_stopped_keeps_the_alert_level_and_restarts_the_rul(tmp_path: Path) -> None:
    data = history()
    first = PdmAnalytic({ASSET: CONFIG}, tmp_path, alert_refresh_s=0)
    run(first, iter(data[:3 * 5000]))
    saved = first.snapshot()
    level = state_of(first)["assets"][0]["scorer"]["state"]["hysteresis"]["index"]
    assert level >= 0  # warning or alarm at the cut
    model = load_model(next(tmp_path.glob("*.joblib")))
    model.info = dataclasses.replace(model.info, version=2)  # retrained while the service was stopped
    save_model(model, tmp_path)
    resumed = PdmAnalytic({ASSET: CONFIG}, tmp_path, alert_refresh_s=0, check_interval_s=0)
    resumed.restore(saved)
    restored = state_of(resumed)["assets"][0]["scorer"]["state"]
    assert restored["hysteresis"]["index"] == level and restored["rul"] == {"t": [], "y": []}
    out = run(resumed, iter(data[3 * 5000:3 * 5100]))
    assert not any(e.state is EventState.CLEARED for e in out.events)  # a restart neither clears …
    assert not any(e.state is EventState.FIRING and e.details["previous_state"] == "normal" for e in out.events)


def test_an_unreadable_or_incompatible_snapshot_is_refused_and_leaves_the_analytic_as_it_was(tmp_path: Path) -> None:
    analytic = PdmAnalytic({ASSET: CONFIG}, tmp_path)
    run(analytic, readings(200))
    before = analytic.snapshot()
    for data in (b"", encode_snapshot("pdm", 7, {}), encode_snapshot("pdm", 1, {"assets": [{"asset": str(ASSET)}]})):
        with pytest.raises(SnapshotError):
            analytic.restore(data)
        assert analytic.snapshot() == before
