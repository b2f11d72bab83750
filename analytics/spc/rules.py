"""Run rules for Shewhart charts: Western Electric 1–4 and Nelson 1–8, evaluated point by point.

Sources:
- Western Electric Company, *Statistical Quality Control Handbook* (1956), §1.B "Tests for
  unnatural patterns"; also Montgomery, *Introduction to SQC*, 7th ed., §5.3.6 (Table 5.1).
- L. S. Nelson, "The Shewhart Control Chart—Tests for Special Causes", Journal of Quality
  Technology 16(4), 1984, pp. 237–239.

Zones are measured in standard deviations of the plotted statistic from the centre line:
zone C is |z| < 1, zone B 1 ≤ |z| < 2, zone A 2 ≤ |z| < 3. "Beyond kσ" is strict (|z| > k),
and a point exactly on the centre line is on neither side, so it breaks a same-side run;
equal consecutive values break a trend or an alternation. Rule 1 uses the chart's actual
limits (so L ≠ 3 and limits clipped at zero are honoured); the zone rules use z.

Nelson test 8 reads "eight points in a row on both sides of the centre line with none in
zone C"; like Minitab and AIAG we read "both sides" as "either side" (a run of eight beyond
1σ on one side is also caught by test 6, so the readings differ only in which test fires).

A rule fires at the point that completes its pattern, and fires again on every following
point for which the pattern (ending at that point) still holds. For the "k of m" rules the
completing point must itself be one of the k, so one pattern is reported once, not m times.

The checker is O(1) per point: run lengths are kept as counters (why: with all eight
Nelson rules on, rescanning a 15-point window per sample would dominate the cost of
streaming evaluation).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from analytics.spc.errors import SpcConfigError
from analytics.spc.points import Violation
from analytics.state import ts_in, ts_out

RULE_DESCRIPTIONS: dict[str, str] = {
    "we1": "one point beyond the 3σ control limits",
    "we2": "two of three successive points beyond 2σ on the same side",
    "we3": "four of five successive points beyond 1σ on the same side",
    "we4": "eight successive points on the same side of the centre line",
    "nelson1": "one point beyond the 3σ control limits",
    "nelson2": "nine points in a row on the same side of the centre line",
    "nelson3": "six points in a row steadily increasing or decreasing",
    "nelson4": "fourteen points in a row alternating up and down",
    "nelson5": "two of three points beyond 2σ on the same side",
    "nelson6": "four of five points beyond 1σ on the same side",
    "nelson7": "fifteen points in a row within 1σ of the centre line",
    "nelson8": "eight points in a row beyond 1σ (either side)",
}

RULE_SETS: dict[str, tuple[str, ...]] = {
    "nelson": tuple(f"nelson{i}" for i in range(1, 9)),
    "we": tuple(f"we{i}" for i in range(1, 5)),
    "western-electric": tuple(f"we{i}" for i in range(1, 5)),
    "limits": ("nelson1",),
    "none": (),
}

# How many trailing points each pattern spans (what a violation reports).
_SPAN = {"we1": 1, "we2": 3, "we3": 5, "we4": 8, "nelson1": 1, "nelson2": 9, "nelson3": 6, "nelson4": 14,
         "nelson5": 3, "nelson6": 5, "nelson7": 15, "nelson8": 8}
_WINDOW = 15


def parse_rules(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """Turn "nelson", "we", "none", "nelson1,nelson2,we4" or a list of ids into rule ids (ordered, unique)."""
    if spec is None:
        return ()
    items = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    out: list[str] = []
    for item in items:
        if not item:
            continue
        ids = RULE_SETS.get(item, (item,))
        for rule in ids:
            if rule not in RULE_DESCRIPTIONS:
                known = ", ".join([*RULE_SETS, *RULE_DESCRIPTIONS])
                raise SpcConfigError(f"unknown rule {item!r}; known: {known}")
            if rule not in out:
                out.append(rule)
    return tuple(out)


class RuleChecker:
    """Streaming run-rule evaluation: feed each point's statistic, z-score and limit flag.

    >>> rc = RuleChecker(rules="nelson", chart="x")
    >>> [v.rule for v in rc.update(0, statistic=3.5, z=3.5, beyond_upper=True, beyond_lower=False)]
    ['nelson1']
    """

    def __init__(self, *, rules: str | Iterable[str] | None = "nelson", chart: str = "x") -> None:
        self.rules = rules
        self.chart = chart
        self._rules = parse_rules(rules)
        self._active = frozenset(self._rules)
        self._points: deque[tuple[int, datetime | None, float]] = deque(maxlen=_WINDOW)  # (index, ts, z)
        self._prev_stat: float | None = None
        self._prev_diff_sign = 0
        self._side_run = 0  # >0: run above centre, <0: run below
        self._trend_run = 0  # >0: consecutive increases, <0: consecutive decreases
        self._alt_run = 0  # consecutive differences alternating in sign
        self._zone_c_run = 0
        self._beyond_1_run = 0

    @property
    def active_rules(self) -> tuple[str, ...]:
        """The rule ids being checked, in order."""
        return self._rules

    def reset(self) -> None:
        """Forget history (e.g. after an assignable cause was removed and the chart restarted)."""
        self.__init__(rules=self.rules, chart=self.chart)  # type: ignore[misc]

    def dump_state(self) -> dict[str, Any]:
        """The run counters and the last points, JSON-able (what a checkpoint keeps)."""
        return {"points": [[i, ts_out(t), z] for i, t, z in self._points], "prev_stat": self._prev_stat,
                "prev_diff_sign": self._prev_diff_sign, "side_run": self._side_run, "trend_run": self._trend_run,
                "alt_run": self._alt_run, "zone_c_run": self._zone_c_run, "beyond_1_run": self._beyond_1_run}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        points = deque(((int(i), ts_in(t), float(z)) for i, t, z in state["points"]), maxlen=_WINDOW)
        prev = state["prev_stat"]
        counters = [int(state[k]) for k in ("prev_diff_sign", "side_run", "trend_run", "alt_run", "zone_c_run",
                                            "beyond_1_run")]
        self._points, self._prev_stat = points, None if prev is None else float(prev)
        (self._prev_diff_sign, self._side_run, self._trend_run, self._alt_run, self._zone_c_run,
         self._beyond_1_run) = counters

    def update(self, index: int, *, statistic: float, z: float, beyond_upper: bool, beyond_lower: bool,
               timestamp: datetime | None = None) -> tuple[Violation, ...]:
        """Add one point; return the violations that fire at it (empty tuple when none)."""
        self._points.append((index, timestamp, z))
        # Same side of the centre line (zero breaks the run).
        if z > 0:
            self._side_run = self._side_run + 1 if self._side_run > 0 else 1
        elif z < 0:
            self._side_run = self._side_run - 1 if self._side_run < 0 else -1
        else:
            self._side_run = 0
        # Trend and alternation work on the plotted statistic itself.
        sign = 0
        if self._prev_stat is not None:
            diff = statistic - self._prev_stat
            sign = (diff > 0) - (diff < 0)
        self._prev_stat = statistic
        if sign > 0:
            self._trend_run = self._trend_run + 1 if self._trend_run > 0 else 1
        elif sign < 0:
            self._trend_run = self._trend_run - 1 if self._trend_run < 0 else -1
        else:
            self._trend_run = 0
        if sign != 0 and sign == -self._prev_diff_sign:
            self._alt_run += 1
        else:
            self._alt_run = 1 if sign != 0 else 0
        self._prev_diff_sign = sign
        az = abs(z)
        self._zone_c_run = self._zone_c_run + 1 if az < 1.0 else 0
        self._beyond_1_run = self._beyond_1_run + 1 if az > 1.0 else 0

        if not self._active:
            return ()
        # Fast path: on most points no pattern can be complete (every rule needs one of these).
        if not (beyond_upper or beyond_lower or az > 1.0 or self._zone_c_run >= 15 or self._side_run >= 8
                or self._side_run <= -8 or self._trend_run >= 5 or self._trend_run <= -5 or self._alt_run >= 13):
            return ()
        fired: list[tuple[str, tuple[int, ...]]] = []
        beyond = beyond_upper or beyond_lower
        n = len(self._points)
        for rule in self._rules:
            hit: tuple[int, ...] | None = None
            if rule == "nelson1" or rule == "we1":
                if beyond:
                    hit = (n - 1,)
            elif rule == "nelson2" or rule == "we4":
                need = 9 if rule == "nelson2" else 8
                if abs(self._side_run) >= need:
                    hit = tuple(range(n - need, n))
            elif rule == "nelson3":
                if abs(self._trend_run) >= 5:  # six points = five consecutive moves
                    hit = tuple(range(n - 6, n))
            elif rule == "nelson4":
                if self._alt_run >= 13:  # fourteen points = thirteen alternating moves
                    hit = tuple(range(n - 14, n))
            elif rule == "nelson5" or rule == "we2":
                if az > 2.0:
                    hit = self._k_of_m(2, 3, 2.0, z > 0)
            elif rule == "nelson6" or rule == "we3":
                if az > 1.0:
                    hit = self._k_of_m(4, 5, 1.0, z > 0)
            elif rule == "nelson7":
                if self._zone_c_run >= 15:
                    hit = tuple(range(n - 15, n))
            elif rule == "nelson8":
                if self._beyond_1_run >= 8:
                    hit = tuple(range(n - 8, n))
            if hit is not None:
                fired.append((rule, hit))
        if not fired:
            return ()
        pts = self._points
        return tuple(
            Violation(rule=rule, description=RULE_DESCRIPTIONS[rule], chart=self.chart, index=index,
                      indices=tuple(pts[i][0] for i in hit), timestamps=tuple(pts[i][1] for i in hit))
            for rule, hit in fired
        )

    def _k_of_m(self, k: int, m: int, bound: float, upper: bool) -> tuple[int, ...] | None:
        """Positions (in the window) of the points beyond `bound` on the given side among the last m, if ≥ k."""
        n = len(self._points)
        start = max(0, n - m)
        if upper:
            hits = tuple(i for i in range(start, n) if self._points[i][2] > bound)
        else:
            hits = tuple(i for i in range(start, n) if self._points[i][2] < -bound)
        return hits if len(hits) >= k else None
