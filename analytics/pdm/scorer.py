"""Per-asset streaming scorer: feature vector in, health result out (anomaly, health, RUL, state).

`AssetScorer.update(features) -> HealthResult` is the one call a streaming service makes
per window. Inside: the baseline model's normalised anomaly score, the health index,
the alert state through hysteresis, and — while the asset is not normal — a RUL fit to
the log of the anomaly score (see `rul.py`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analytics.pdm.features import FeatureVector
from analytics.pdm.hysteresis import NORMAL, AlertHysteresis, Level
from analytics.pdm.models import BaselineModel
from analytics.pdm.rul import RulTracker

log = logging.getLogger(__name__)

# The log of a score below half the control limit is noise about the healthy baseline
# (ln of a near-zero T² runs to −∞); flooring it keeps such windows from pulling the
# degradation slope around.
_LOG_FLOOR = 0.5


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The health of one asset at the end of one feature window."""

    asset: str
    ts_s: float
    anomaly_score: float
    health_index: float
    state: str
    previous_state: str
    rul_hours: float | None = None
    rul_hours_low: float | None = None
    rul_hours_high: float | None = None
    n_missing: int = 0
    model_version: int = 0

    @property
    def changed(self) -> bool:
        """True when this window changed the alert state."""
        return self.state != self.previous_state

    def alert_text(self, component: str = "") -> str:
        """One line for a maintenance alert.

        e.g. "CNC-03 spindle bearing: health 41, failure threshold expected in 30–44 h".
        """
        who = f"{self.asset} {component}".strip()
        text = f"{who}: health {self.health_index:.0f}"
        if self.rul_hours_low is not None and self.rul_hours_high is not None:
            if math.isinf(self.rul_hours_high):
                text += f", failure threshold not expected within {self.rul_hours_low:.0f} h"
            else:
                text += f", failure threshold expected in {self.rul_hours_low:.0f}–{self.rul_hours_high:.0f} h"
        elif self.state != NORMAL:
            text += f", anomaly score {self.anomaly_score:.1f}× the control limit, no degradation trend yet"
        return text


def default_levels(failure_score: float) -> tuple[Level, ...]:
    """Warning at the control limit, alarm at health 50 (score √failure_score); exits at 80 % of the entries.

    The 20 % deadband is wider than the window-to-window noise of the score measured on
    healthy synthetic data (see README), which is what stops flapping.
    """
    alarm = math.sqrt(failure_score)
    return (Level("warning", enter=1.0, exit=0.8), Level("alarm", enter=alarm, exit=0.8 * alarm))


class AssetScorer:
    """Streaming health scoring of one asset; `update(features)` per window."""

    def __init__(self, model: BaselineModel, *, levels: Sequence[Level] | None = None, dwell: int = 3,
                 rul_level: float = 0.90, rul_min_points: int = 6,
                 rul_max_points: int = 200) -> None:
        self.levels = tuple(levels) if levels is not None else None
        self.dwell = dwell
        self.rul_level = rul_level
        self.rul_min_points = rul_min_points
        self.rul_max_points = rul_max_points
        self._model = model
        self._hysteresis = AlertHysteresis(levels=self.levels or default_levels(model.info.failure_score), dwell=dwell)
        self._rul = self._new_tracker(model)
        self._last: HealthResult | None = None

    def __repr__(self) -> str:
        return f"AssetScorer({self._model!r}, dwell={self.dwell}, rul_level={self.rul_level})"

    def _new_tracker(self, model: BaselineModel) -> RulTracker:
        return RulTracker(threshold=math.log(model.info.failure_score), level=self.rul_level,
                          min_points=self.rul_min_points, max_points=self.rul_max_points)

    @property
    def model(self) -> BaselineModel:
        """The baseline model in use."""
        return self._model

    @property
    def state(self) -> str:
        """Current alert state (normal, warning, alarm)."""
        return self._hysteresis.state

    @property
    def last(self) -> HealthResult | None:
        """The latest result."""
        return self._last

    def use_model(self, model: BaselineModel, *, keep_history: bool = False) -> None:
        """Switch to a new model (hot reload); the alert state stays, the RUL history restarts.

        The RUL history is in units of the old model's score, which a new baseline rescales.
        `keep_history` keeps it for a switch between baselines of the same machine in
        different operating regimes: both scores are in control-limit units of the same
        machine's healthy state, so the degradation trend continues across the switch.
        """
        log.debug("asset %s: model version %d replaces %s version %d", model.info.asset, model.info.version,
                  self._model.info.asset, self._model.info.version)
        self._model = model
        if not keep_history or math.log(model.info.failure_score) != self._rul.threshold:
            self._rul = self._new_tracker(model)
        if self.levels is None:
            level = self._hysteresis.level
            self._hysteresis = AlertHysteresis(levels=default_levels(model.info.failure_score), dwell=self.dwell)
            # Carry the level over so a reload does not re-raise or silently clear an alert.
            self._hysteresis.restore(level)

    def dump_state(self) -> dict[str, Any]:
        """Alert state, degradation history and the last result, JSON-able (the model is the registry's)."""
        return {"hysteresis": self._hysteresis.dump_state(), "rul": self._rul.dump_state(),
                "last": dataclasses.asdict(self._last) if self._last is not None else None}

    def load_state(self, state: dict[str, Any], *, same_model: bool = True) -> None:
        """Continue from `dump_state()`. With `same_model` False (the model file changed meanwhile) it goes on as
        after `use_model`: the alert level carries over, the RUL history restarts."""
        last = HealthResult(**state["last"]) if state["last"] is not None else None
        if same_model:
            self._hysteresis.load_state(state["hysteresis"])
            self._rul.load_state(state["rul"])
        else:
            self._hysteresis.restore(int(state["hysteresis"]["index"]) + 1)
        self._last = last

    def update(self, features: FeatureVector) -> HealthResult:
        """Score one window of features."""
        score, missing = self._model.score_features(features)
        previous = self._hysteresis.state
        state = self._hysteresis.update(score)
        t_h = features.ts_s / 3600.0
        rul = None
        if state == NORMAL:
            self._rul.reset()
        else:
            rul = self._rul.update(t_h, math.log(max(score, _LOG_FLOOR)))
        result = HealthResult(
            asset=self._model.info.asset, ts_s=features.ts_s, anomaly_score=score,
            health_index=self._model.health(score), state=state, previous_state=previous,
            rul_hours=rul.rul if rul else None, rul_hours_low=rul.low if rul else None,
            rul_hours_high=rul.high if rul else None, n_missing=missing, model_version=self._model.info.version,
        )
        if result.changed:
            log.info("asset %s: %s -> %s (score %.2f)", result.asset, previous, state, score)
        self._last = result
        return result
