"""Streaming control charts: one object per characteristic, one verb, `update(value, ts) -> ChartPoint`.

Each chart is built from *frozen* parameters (Phase II): the process mean and standard
deviation for variables charts, the standard p, c or u for attributes charts. Phase I
(estimating those from a baseline) lives in `analytics.spc.phase1`; the streaming service
runs a warm-up through `analytics.spc.evaluator.SpcEvaluator`, which freezes the estimate
and then feeds this module. Why frozen: a chart whose limits keep learning from the data
would follow the very drift it is there to detect (Phase I vs Phase II, Montgomery §5.3 and ch. 6).

Formulas (Montgomery, *Introduction to Statistical Quality Control*, 7th ed.):
- Individuals: x ± L·σ; moving range MR_i = |x_i − x_{i−1}|, CL d2(2)·σ,
  limits (d2 ± L·d3)·σ with LCL clipped at 0 (§6.4; D1/D2 of Appendix VI).
- X̄: μ ± L·σ/√n; R: CL d2·σ, limits (d2 ± L·d3)·σ; S: CL c4·σ, limits (c4 ± L·√(1−c4²))·σ
  (§6.2.1, §6.3.1; with estimated σ = R̄/d2 or s̄/c4 these equal the A2/D3/D4, A3/B3/B4 forms).
- EWMA: z_i = λ·x_i + (1−λ)·z_{i−1}, z_0 = μ; limits μ ± L·σ·√(λ/(2−λ)·[1−(1−λ)^{2i}])
  (exact, time-varying) or μ ± L·σ·√(λ/(2−λ)) (asymptotic) (§9.2).
- Tabular CUSUM: C⁺_i = max(0, x_i − (μ + K) + C⁺_{i−1}), C⁻_i = max(0, (μ − K) − x_i + C⁻_{i−1}),
  K = k·σ, H = h·σ, signal when C⁺ or C⁻ > H; fast initial response starts both at
  headstart·H (Lucas & Crosier 1982, JQT 14(2):51–59; Montgomery §9.1).
- p: p̄ ± L·√(p̄(1−p̄)/n_i); np: n·p̄ ± L·√(n·p̄(1−p̄)); c: c̄ ± L·√c̄; u: ū ± L·√(ū/n_i);
  negative lower limits are set to 0 (§7.2, §7.3).

State: every chart's history (point count, run-rule counters, the last value, a partial
subgroup, the EWMA statistic, the CUSUM sums) is `dump_state()`, a JSON-able dict, and
`load_state(state)` continues from it exactly; the parameters are not in it (they come
from the constructor, i.e. the plant file and the frozen limits). The streaming service
checkpoints it so a restarted chart goes on as if it had never stopped.

Run rules (`analytics.spc.rules`) are applied to Shewhart-type location and attributes
charts. They are *not* applied to EWMA or CUSUM statistics, whose successive values are
autocorrelated by construction, which voids the run-rule false-alarm rates (Montgomery
§9.2.3); those charts signal on their own limits only. Dispersion charts (MR, R, S) get
the limit rule only: MR values are autocorrelated and R/S are skewed, so zone rules on
them would raise false alarms at unknown rates.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, Self

from analytics.spc.constants import factors
from analytics.spc.errors import SpcConfigError, SpcDataError
from analytics.spc.points import ChartPoint, Violation
from analytics.spc.rules import RuleChecker, parse_rules
from analytics.state import ts_in, ts_out

CHART_RULES: dict[str, str] = {
    "ewma_limits": "EWMA statistic beyond its control limits",
    "cusum_upper": "upper CUSUM C⁺ exceeded the decision interval H (upward shift)",
    "cusum_lower": "lower CUSUM C⁻ exceeded the decision interval H (downward shift)",
}


class Chart(Protocol):
    """What every streaming chart offers; the streaming service needs nothing else."""

    kind: str

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint | None:
        """Add one observation; return the chart point it completes (None while a subgroup fills)."""
        ...

    @property
    def count(self) -> int:
        """Number of chart points emitted so far."""
        ...

    def clone(self) -> Chart:
        """A fresh chart with the same parameters and no history."""
        ...

    def dump_state(self) -> dict[str, Any]:
        """The chart's history as a JSON-able dict (not its parameters)."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of a chart with the same parameters."""
        ...


class _Params:
    """river-style: constructor arguments are stored unchanged, so repr and clone() work."""

    def _params(self) -> dict[str, Any]:
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {n: getattr(self, n) for n in names}

    def clone(self) -> Self:
        """A fresh chart with the same parameters and no history."""
        return type(self)(**self._params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise SpcConfigError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _finite(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise SpcConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _limit_rule(rules: tuple[str, ...]) -> str | None:
    """Which rule id names a limit violation on a companion chart: the one of the selected set."""
    if "nelson1" in rules:
        return "nelson1"
    if "we1" in rules:
        return "we1"
    return None


class _Shewhart(_Params):
    """Shared plumbing: standardise, check rules, build the ChartPoint."""

    kind = "shewhart"

    def __init__(self, *, L: float, rules: str | Iterable[str] | None) -> None:
        self._L = _positive("L", L)
        self._rule_ids = parse_rules(rules)
        self._checker = RuleChecker(rules=self._rule_ids, chart=self.kind)
        self._limit_rule = _limit_rule(self._rule_ids)
        self._count = 0

    @property
    def count(self) -> int:
        """Number of chart points emitted so far."""
        return self._count

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The run rules in force on the location chart."""
        return self._rule_ids

    def dump_state(self) -> dict[str, Any]:
        """Point count and run-rule state (subclasses add theirs)."""
        return {"count": self._count, "rules": self._checker.dump_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        self._count = int(state["count"])
        self._checker.load_state(state["rules"])

    def _point(self, statistic: float, center: float, sigma: float, lcl: float | None, ucl: float | None,
               ts: datetime | None, size: float = 1.0, dispersion: ChartPoint | None = None) -> ChartPoint:
        index = self._count
        self._count += 1
        up = ucl is not None and statistic > ucl
        lo = lcl is not None and statistic < lcl
        z = (statistic - center) / sigma if sigma > 0 else 0.0
        violations = self._checker.update(index, statistic=statistic, z=z, beyond_upper=up, beyond_lower=lo,
                                          timestamp=ts)
        return ChartPoint(chart=self.kind, index=index, timestamp=ts, statistic=statistic, center=center, lcl=lcl,
                          ucl=ucl, sigma=sigma, size=size, violations=violations, dispersion=dispersion)

    def _dispersion_point(self, chart: str, index: int, statistic: float, center: float, sigma: float,
                          lcl: float, ucl: float, ts: datetime | None) -> ChartPoint:
        violations: tuple[Violation, ...] = ()
        if self._limit_rule is not None and (statistic > ucl or statistic < lcl):
            violations = (Violation(rule=self._limit_rule, description="one point beyond the control limits",
                                    chart=chart, index=index, indices=(index,), timestamps=(ts,)),)
        return ChartPoint(chart=chart, index=index, timestamp=ts, statistic=statistic, center=center,
                          lcl=lcl, ucl=ucl, sigma=sigma, violations=violations)


class IndividualsChart(_Shewhart):
    """I-MR chart for single measurements (n = 1), with known or frozen μ and σ.

    >>> chart = IndividualsChart(mean=10.0, sigma=1.0, rules="nelson")
    >>> chart.update(10.5).ucl
    13.0
    >>> [v.rule for v in chart.update(14.0).violations]
    ['nelson1']
    """

    kind = "x"

    def __init__(self, *, mean: float, sigma: float, L: float = 3.0,
                 rules: str | Iterable[str] | None = "nelson") -> None:
        self.mean = _finite("mean", mean)
        self.sigma = _positive("sigma", sigma)
        self.L = L
        self.rules = rules
        super().__init__(L=L, rules=rules)
        f = factors(2)
        self._lcl = self.mean - L * self.sigma
        self._ucl = self.mean + L * self.sigma
        self._mr_center = f.d2 * self.sigma
        self._mr_sigma = f.d3 * self.sigma
        self._mr_lcl = max(0.0, (f.d2 - L * f.d3) * self.sigma)
        self._mr_ucl = (f.d2 + L * f.d3) * self.sigma
        self._last: float | None = None

    def dump_state(self) -> dict[str, Any]:
        """Point count, run-rule state and the last value (for the next moving range)."""
        return {**super().dump_state(), "last": self._last}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        super().load_state(state)
        self._last = None if state["last"] is None else float(state["last"])

    @property
    def lcl(self) -> float:
        """Lower control limit of the individuals chart."""
        return self._lcl

    @property
    def ucl(self) -> float:
        """Upper control limit of the individuals chart."""
        return self._ucl

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one measurement; return its I point (with the MR point as `dispersion` from the 2nd on)."""
        x = float(value)
        mr_point = None
        if self._last is not None:
            mr_point = self._dispersion_point("mr", self._count, abs(x - self._last), self._mr_center,
                                              self._mr_sigma, self._mr_lcl, self._mr_ucl, ts)
        self._last = x
        return self._point(x, self.mean, self.sigma, self._lcl, self._ucl, ts, dispersion=mr_point)


class _SubgroupChart(_Shewhart):
    """X̄ with R or S: buffers single measurements into subgroups of n."""

    _dispersion_kind = "r"

    def __init__(self, *, mean: float, sigma: float, n: int, L: float = 3.0,
                 rules: str | Iterable[str] | None = "nelson") -> None:
        self.mean = _finite("mean", mean)
        self.sigma = _positive("sigma", sigma)
        self.n = n
        self.L = L
        self.rules = rules
        super().__init__(L=L, rules=rules)
        self._f = factors(n)
        self._sigma_xbar = self.sigma / math.sqrt(n)
        self._lcl = self.mean - L * self._sigma_xbar
        self._ucl = self.mean + L * self._sigma_xbar
        self._buffer: list[float] = []
        self._set_dispersion()

    def _set_dispersion(self) -> None:
        f, L, s = self._f, self.L, self.sigma
        self._d_center = f.d2 * s
        self._d_sigma = f.d3 * s
        self._d_lcl = max(0.0, (f.d2 - L * f.d3) * s)
        self._d_ucl = (f.d2 + L * f.d3) * s

    def _spread(self, values: Sequence[float]) -> float:
        return max(values) - min(values)

    @property
    def lcl(self) -> float:
        """Lower control limit of the X̄ chart."""
        return self._lcl

    @property
    def ucl(self) -> float:
        """Upper control limit of the X̄ chart."""
        return self._ucl

    @property
    def pending(self) -> int:
        """Measurements buffered towards the next subgroup."""
        return len(self._buffer)

    def dump_state(self) -> dict[str, Any]:
        """Point count, run-rule state and the partly filled subgroup."""
        return {**super().dump_state(), "buffer": list(self._buffer)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        buffer = [float(v) for v in state["buffer"]]
        if len(buffer) >= self.n:
            raise SpcDataError(f"a partial subgroup of {len(buffer)} values for subgroups of {self.n}")
        super().load_state(state)
        self._buffer = buffer

    def discard_pending(self) -> int:
        """Drop a partly filled subgroup (a product changeover ends it); return how many values were dropped."""
        dropped, self._buffer = len(self._buffer), []
        return dropped

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint | None:
        """Add one measurement; return the X̄ point when it completes a subgroup of n, else None."""
        self._buffer.append(float(value))
        if len(self._buffer) < self.n:
            return None
        values, self._buffer = self._buffer, []
        return self.update_subgroup(values, ts)

    def update_subgroup(self, values: Sequence[float], ts: datetime | None = None) -> ChartPoint:
        """Add one whole rational subgroup (exactly n values); return its X̄ point with R/S as dispersion."""
        if len(values) != self.n:
            raise SpcDataError(f"subgroup has {len(values)} values, the chart expects n={self.n}")
        xbar = math.fsum(values) / self.n
        spread = self._spread(values)
        d_point = self._dispersion_point(self._dispersion_kind, self._count, spread, self._d_center,
                                         self._d_sigma, self._d_lcl, self._d_ucl, ts)
        return self._point(xbar, self.mean, self._sigma_xbar, self._lcl, self._ucl, ts, size=self.n,
                           dispersion=d_point)


class XbarRChart(_SubgroupChart):
    """X̄-R chart for subgroups of n (2..25) with known or frozen μ and σ."""

    kind = "xbar"
    _dispersion_kind = "r"


class XbarSChart(_SubgroupChart):
    """X̄-S chart for subgroups of n (2..25) with known or frozen μ and σ."""

    kind = "xbar"
    _dispersion_kind = "s"

    def _set_dispersion(self) -> None:
        c4, L, s = self._f.c4, self.L, self.sigma
        spread = math.sqrt(1.0 - c4 * c4)
        self._d_center = c4 * s
        self._d_sigma = spread * s
        self._d_lcl = max(0.0, (c4 - L * spread) * s)
        self._d_ucl = (c4 + L * spread) * s

    def _spread(self, values: Sequence[float]) -> float:
        m = math.fsum(values) / len(values)
        return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


class EwmaChart(_Params):
    """EWMA chart on individual measurements with exact (time-varying) or asymptotic limits.

    >>> chart = EwmaChart(mean=50.0, sigma=2.0539, lam=0.3, L=3.0, limits="asymptotic")
    >>> round(chart.update(52.0).ucl, 4)
    52.5884
    """

    kind = "ewma"

    def __init__(self, *, mean: float, sigma: float, lam: float = 0.1, L: float = 2.814,
                 limits: str = "exact") -> None:
        self.mean = _finite("mean", mean)
        self.sigma = _positive("sigma", sigma)
        if not 0 < lam <= 1:
            raise SpcConfigError(f"EWMA lambda must be in (0, 1], got {lam!r}")
        if limits not in ("exact", "asymptotic"):
            raise SpcConfigError(f"EWMA limits must be 'exact' or 'asymptotic', got {limits!r}")
        self.lam = float(lam)
        self.L = _positive("L", L)
        self.limits = limits
        self._z = self.mean
        self._count = 0
        self._asym_sigma = self.sigma * math.sqrt(self.lam / (2.0 - self.lam))
        self._decay = (1.0 - self.lam) ** 2  # (1−λ)^2, multiplied in once per point
        self._decay_i = 1.0  # (1−λ)^(2i) after i points

    @property
    def count(self) -> int:
        """Number of chart points emitted so far."""
        return self._count

    @property
    def statistic(self) -> float:
        """Current EWMA value z_i (μ before the first point)."""
        return self._z

    def reset(self) -> None:
        """Restart the EWMA at the target (after an assignable cause was removed)."""
        self._z = self.mean
        self._decay_i = 1.0

    def dump_state(self) -> dict[str, Any]:
        """Point count, z_i and (1−λ)^(2i) (kept as the running product, so exact limits continue bit for bit)."""
        return {"count": self._count, "z": self._z, "decay_i": self._decay_i}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        self._count, self._z, self._decay_i = int(state["count"]), float(state["z"]), float(state["decay_i"])

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one measurement; return the EWMA point with its (exact or asymptotic) limits."""
        index = self._count
        self._count += 1
        z = self._z = self.lam * float(value) + (1.0 - self.lam) * self._z
        if self.limits == "exact":
            self._decay_i *= self._decay
            sigma_z = self._asym_sigma * math.sqrt(1.0 - self._decay_i)
        else:
            sigma_z = self._asym_sigma
        half = self.L * sigma_z
        lcl, ucl = self.mean - half, self.mean + half
        violations: tuple[Violation, ...] = ()
        if z > ucl or z < lcl:
            violations = (Violation(rule="ewma_limits", description=CHART_RULES["ewma_limits"], chart="ewma",
                                    index=index, indices=(index,), timestamps=(ts,)),)
        return ChartPoint(chart="ewma", index=index, timestamp=ts, statistic=z, center=self.mean, lcl=lcl, ucl=ucl,
                          sigma=sigma_z, violations=violations)


class CusumChart(_Params):
    """Tabular (two-sided) CUSUM with reference value k·σ, decision interval h·σ and optional FIR.

    A violation lists the points since the signalling sum last left zero (N⁺ or N⁻ in
    Montgomery §9.1.2): that is where the shift most likely began.

    >>> chart = CusumChart(mean=0.0, sigma=1.0, k=0.5, h=5.0)
    >>> [chart.update(2.0).statistic for _ in range(3)]
    [1.5, 3.0, 4.5]
    """

    kind = "cusum"

    def __init__(self, *, mean: float, sigma: float, k: float = 0.5, h: float = 5.0, headstart: float = 0.0) -> None:
        self.mean = _finite("mean", mean)
        self.sigma = _positive("sigma", sigma)
        if not (math.isfinite(k) and k >= 0):
            raise SpcConfigError(f"CUSUM k must be >= 0, got {k!r}")
        self.k = float(k)
        self.h = _positive("h", h)
        if not 0 <= headstart < 1:
            raise SpcConfigError(f"CUSUM headstart is a fraction of H in [0, 1), got {headstart!r}")
        self.headstart = float(headstart)
        self._K = self.k * self.sigma
        self._H = self.h * self.sigma
        self._count = 0
        self.reset()

    @property
    def count(self) -> int:
        """Number of chart points emitted so far."""
        return self._count

    @property
    def upper(self) -> float:
        """Current C⁺."""
        return self._cp

    @property
    def lower(self) -> float:
        """Current C⁻."""
        return self._cm

    @property
    def decision_interval(self) -> float:
        """H = h·σ, in measurement units."""
        return self._H

    def reset(self) -> None:
        """Restart both sums at the head start (0 without FIR), as after a corrective action."""
        self._cp = self._cm = self.headstart * self._H
        self._run_p: list[tuple[int, datetime | None]] = []
        self._run_m: list[tuple[int, datetime | None]] = []

    def dump_state(self) -> dict[str, Any]:
        """Point count, C⁺, C⁻ and the points since each sum left zero."""
        return {"count": self._count, "cp": self._cp, "cm": self._cm,
                "run_p": [[i, ts_out(t)] for i, t in self._run_p], "run_m": [[i, ts_out(t)] for i, t in self._run_m]}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        run_p = [(int(i), ts_in(t)) for i, t in state["run_p"]]
        run_m = [(int(i), ts_in(t)) for i, t in state["run_m"]]
        self._count, self._cp, self._cm = int(state["count"]), float(state["cp"]), float(state["cm"])
        self._run_p, self._run_m = run_p, run_m

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one measurement; return the point (statistic C⁺, statistic_lower C⁻, limits ±H)."""
        index = self._count
        self._count += 1
        x = float(value) - self.mean
        cp = self._cp + x - self._K
        cm = self._cm - x - self._K
        if cp > 0.0:
            self._cp = cp
            self._run_p.append((index, ts))
        else:
            self._cp = 0.0
            self._run_p.clear()
        if cm > 0.0:
            self._cm = cm
            self._run_m.append((index, ts))
        else:
            self._cm = 0.0
            self._run_m.clear()
        violations: tuple[Violation, ...] = ()
        H = self._H
        if self._cp > H or self._cm > H:
            v = []
            for rule, hit, run in (("cusum_upper", self._cp > H, self._run_p), ("cusum_lower", self._cm > H,
                                                                                 self._run_m)):
                if hit:
                    v.append(Violation(rule=rule, description=CHART_RULES[rule], chart="cusum", index=index,
                                       indices=tuple(i for i, _ in run), timestamps=tuple(t for _, t in run)))
            violations = tuple(v)
        return ChartPoint(chart="cusum", index=index, timestamp=ts, statistic=self._cp, statistic_lower=self._cm,
                          center=0.0, lcl=-H, ucl=H, sigma=self.sigma, violations=violations)


class _Attribute(_Shewhart):
    """Shared plumbing for p, np, c, u: count (and size) in, standardised point out."""

    def _check_count(self, value: float) -> float:
        x = float(value)
        if not math.isfinite(x) or x < 0:
            raise SpcDataError(f"{self.kind} chart counts must be finite and >= 0, got {value!r}")
        return x

    def _check_size(self, size: float | None) -> float:
        if size is None:
            raise SpcDataError(f"{self.kind} chart needs the inspected size of each sample")
        n = float(size)
        if not math.isfinite(n) or n <= 0:
            raise SpcDataError(f"{self.kind} chart sample size must be > 0, got {size!r}")
        return n

    def _limits(self, center: float, sigma: float, ts: datetime | None, stat: float, size: float) -> ChartPoint:
        half = self._L * sigma
        return self._point(stat, center, sigma, max(0.0, center - half), center + half, ts, size=size)


class PChart(_Attribute):
    """p chart: fraction nonconforming with the standard (or frozen p̄) `p`, sizes may vary."""

    kind = "p"

    def __init__(self, *, p: float, L: float = 3.0, rules: str | Iterable[str] | None = "nelson") -> None:
        if not 0 < p < 1:
            raise SpcConfigError(f"p chart needs 0 < p < 1, got {p!r}")
        self.p, self.L, self.rules = float(p), L, rules
        super().__init__(L=L, rules=rules)

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one sample: `value` nonconforming units out of `size` inspected."""
        d, n = self._check_count(value), self._check_size(size)
        if d > n:
            raise SpcDataError(f"p chart: {d:g} nonconforming out of only {n:g} inspected")
        return self._limits(self.p, math.sqrt(self.p * (1 - self.p) / n), ts, d / n, n)


class NpChart(_Attribute):
    """np chart: number nonconforming in samples of constant size n."""

    kind = "np"

    def __init__(self, *, p: float, n: int, L: float = 3.0, rules: str | Iterable[str] | None = "nelson") -> None:
        if not 0 < p < 1:
            raise SpcConfigError(f"np chart needs 0 < p < 1, got {p!r}")
        if n < 1:
            raise SpcConfigError(f"np chart needs a sample size n >= 1, got {n!r}")
        self.p, self.n, self.L, self.rules = float(p), int(n), L, rules
        super().__init__(L=L, rules=rules)

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one sample's number nonconforming (size, if given, must equal n)."""
        d = self._check_count(value)
        if size is not None and float(size) != self.n:
            raise SpcDataError(f"np chart needs constant sample size {self.n}, got {size!r}; use a p chart")
        if d > self.n:
            raise SpcDataError(f"np chart: {d:g} nonconforming out of only {self.n} inspected")
        return self._limits(self.n * self.p, math.sqrt(self.n * self.p * (1 - self.p)), ts, d, self.n)


class CChart(_Attribute):
    """c chart: nonconformities per inspection unit of constant size, standard (or frozen c̄) `c`."""

    kind = "c"

    def __init__(self, *, c: float, L: float = 3.0, rules: str | Iterable[str] | None = "nelson") -> None:
        self.c, self.L, self.rules = _positive("c", c), L, rules
        super().__init__(L=L, rules=rules)

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one unit's count of nonconformities."""
        return self._limits(self.c, math.sqrt(self.c), ts, self._check_count(value), 1.0)


class UChart(_Attribute):
    """u chart: nonconformities per unit, samples of varying size, standard (or frozen ū) `u`."""

    kind = "u"

    def __init__(self, *, u: float, L: float = 3.0, rules: str | Iterable[str] | None = "nelson") -> None:
        self.u, self.L, self.rules = _positive("u", u), L, rules
        super().__init__(L=L, rules=rules)

    def update(self, value: float, ts: datetime | None = None, *, size: float | None = None) -> ChartPoint:
        """Add one sample: `value` nonconformities found in `size` units."""
        c, n = self._check_count(value), self._check_size(size)
        return self._limits(self.u, math.sqrt(self.u / n), ts, c / n, n)
