"""Degradation tracking and remaining useful life (RUL) with an uncertainty interval.

Method: an exponential degradation model, fitted as a straight line to the log of the
health indicator (ln y = b0 + b1·t + ε; Gebraeel, Lawley, Li & Ryan, IIE Transactions 37
(2005) 543–557, who use the same log-linear form for bearing vibration), by ordinary least
squares over the points since degradation was detected. The predicted failure time is
where the fitted line reaches the failure threshold; the interval is the inverse
(calibration) interval of that crossing — the set of times at which the threshold lies
inside the confidence band of the fitted line — which is Fieller's theorem applied to the
ratio (thr − b0)/b1 (Fieller, JRSS B 16 (1954) 175–185; Draper & Smith, *Applied Regression
Analysis*, 3rd ed., Wiley 1998, §3.2). When the slope is not significantly positive at the
chosen level the interval is unbounded, and no RUL is claimed.

The band is the confidence band of the *trend*, not the prediction band of single
observations: the failure threshold is a level of the underlying degradation, and the
noise of one window should not make the alert earlier.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True, slots=True)
class RulEstimate:
    """Time left until the failure threshold (same time unit as the input), with an interval."""

    rul: float
    low: float
    high: float
    crossing_time: float
    slope: float
    n_points: int
    level: float

    def contains(self, true_rul: float) -> bool:
        """True when true_rul lies in [low, high]."""
        return self.low <= true_rul <= self.high


def time_to_threshold(t: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, threshold: float, *,
                      level: float = 0.90, now: float | None = None) -> RulEstimate | None:
    """Fit y = b0 + b1·t and return when it reaches `threshold`, with a Fieller interval at `level`.

    `now` defaults to the last t; RUL values are counted from it and never negative.
    None when there are fewer than 3 points or the slope is not significantly positive.

    >>> est = time_to_threshold([0, 1, 2, 3, 4], [0.0, 1.1, 1.9, 3.05, 3.95], 10.0)
    >>> round(est.crossing_time, 1), est.low < est.rul < est.high
    (10.1, True)
    """
    tt = np.asarray(t, dtype=float)
    yy = np.asarray(y, dtype=float)
    n = len(tt)
    if n < 3:
        return None
    t_mean, y_mean = float(tt.mean()), float(yy.mean())
    sxx = float(np.sum((tt - t_mean) ** 2))
    if sxx <= 0:
        return None
    b1 = float(np.sum((tt - t_mean) * (yy - y_mean)) / sxx)
    b0 = float(y_mean - b1 * t_mean)
    if b1 <= 0:
        return None
    resid = yy - (b0 + b1 * tt)
    s2 = float(np.sum(resid**2) / (n - 2))
    q = float(stats.t.ppf(0.5 + level / 2, n - 2))
    # Fieller: (ȳ − thr + b1·u)² = q²s²(1/n + u²/Sxx), u = t − t̄, solved for u.
    d = y_mean - threshold
    a = b1 * b1 - q * q * s2 / sxx
    b = 2 * b1 * d
    c = d * d - q * q * s2 / n
    if a <= 0:
        return None
    disc = b * b - 4 * a * c
    root = math.sqrt(max(disc, 0.0))
    u_low, u_high = (-b - root) / (2 * a), (-b + root) / (2 * a)
    now = float(tt[-1]) if now is None else now
    crossing = (threshold - b0) / b1
    return RulEstimate(
        rul=max(crossing - now, 0.0),
        low=max(t_mean + u_low - now, 0.0),
        high=max(t_mean + u_high - now, 0.0),
        crossing_time=crossing,
        slope=b1,
        n_points=n,
        level=level,
    )


class RulTracker:
    """Keeps the degradation history of one asset and re-fits the RUL on each update.

    The caller decides when degradation has started (the scorer does so when the alert
    state leaves normal) and calls `reset()` when the asset is healthy again; fitting only
    the degrading part keeps the flat healthy history from dragging the slope down.
    """

    def __init__(self, *, threshold: float, level: float = 0.90, min_points: int = 6, max_points: int = 200) -> None:
        if min_points < 3:
            raise ValueError("min_points must be at least 3")
        self.threshold = threshold
        self.level = level
        self.min_points = min_points
        self.max_points = max_points
        self._t: deque[float] = deque(maxlen=max_points)
        self._y: deque[float] = deque(maxlen=max_points)
        self._last: RulEstimate | None = None

    @property
    def n_points(self) -> int:
        """Points in the current degradation history."""
        return len(self._t)

    @property
    def estimate(self) -> RulEstimate | None:
        """The latest estimate (None before enough points or without a significant trend)."""
        return self._last

    def update(self, t: float, y: float) -> RulEstimate | None:
        """Add one indicator value at time t and return the refreshed estimate."""
        self._t.append(t)
        self._y.append(y)
        self._last = None
        if len(self._t) >= self.min_points:
            self._last = time_to_threshold(self._t, self._y, self.threshold, level=self.level)
        return self._last

    def reset(self) -> None:
        """Forget the degradation history."""
        self._t.clear()
        self._y.clear()
        self._last = None

    def dump_state(self) -> dict[str, Any]:
        """The degradation history, JSON-able."""
        return {"t": list(self._t), "y": list(self._y)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`; the estimate is fitted again (it is a function of the history)."""
        t, y = [float(v) for v in state["t"]], [float(v) for v in state["y"]]
        if len(t) != len(y):
            raise ValueError("degradation history: times and values differ in length")
        self._t, self._y = deque(t, maxlen=self.max_points), deque(y, maxlen=self.max_points)
        self._last = None
        if len(self._t) >= self.min_points:
            self._last = time_to_threshold(self._t, self._y, self.threshold, level=self.level)
