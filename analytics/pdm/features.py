"""Window features for predictive maintenance, computed incrementally from a stream of readings.

`FeatureWindow.update(signal, ts, value)` takes one reading at a time and returns a
`FeatureVector` each time the stream crosses a hop boundary (e.g. every 60 s of source
time), computed over the trailing window (e.g. 10 min). Per signal the running sums are
updated in O(1) per sample; evicting old samples subtracts them again.

Features (names are `{signal}_{feature}`):

- vibration signals: `rms`, `peak` (max |x|), `crest` (peak / RMS) and `kurtosis`
  (Pearson's, 3 for Gaussian noise). Crest factor and kurtosis rise early in rolling-element
  bearing damage, when impacts are still short; RMS rises later (Randall, *Vibration-based
  Condition Monitoring*, Wiley 2011, §5.2; Heng & Nor, Applied Acoustics 53 (1998) 211–226).
- trend signals (band energies reported by an edge device, temperatures, pressures…):
  `mean` and `slope_per_h` (least-squares slope over the window, per hour).
- spectrum signals (a value that is a sequence of magnitudes): `band{i}` energies, the
  mean over the window of the sum of squared magnitudes in each band of bins.
- temperature rise over ambient: `{temp}_rise` = mean(temp) − mean(ambient); ambient
  is subtracted because a hot afternoon is not a failing bearing.
- current per unit load: `current_per_load` = mean(current) / mean(load); a machine that
  draws more current for the same work is losing efficiency (friction, misalignment).
  Windows with load below `min_load` give NaN, as the ratio is meaningless at idle.

A feature that cannot be computed (no samples, zero variance) is NaN; the scorer imputes it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.state import pack_pairs, unpack_pairs

log = logging.getLogger(__name__)

# Running sums drift by rounding when values are added and later subtracted; rebuilding
# them from the stored window every this many evictions bounds the drift at negligible cost.
_REFRESH_EVERY = 4096


def to_epoch_s(ts: datetime | float) -> float:
    """Seconds since the epoch for a datetime (naive means UTC) or a number already in seconds."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.timestamp()
    return float(ts)


@dataclass(frozen=True, slots=True)
class FeatureVector:
    """Features of one window of one asset, stamped with the window's end (epoch seconds)."""

    ts_s: float
    values: Mapping[str, float]
    n_samples: int = 0

    @property
    def ts(self) -> datetime:
        """The window end as an aware UTC datetime."""
        return datetime.fromtimestamp(self.ts_s, tz=UTC)

    def as_array(self, names: Sequence[str]) -> np.ndarray:
        """The values in the order of `names`; NaN where a feature is missing."""
        return np.array([self.values.get(n, math.nan) for n in names], dtype=float)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which signals of an asset get which features (signal names as in the plant file)."""

    vibration: tuple[str, ...] = ()
    trend: tuple[str, ...] = ()
    spectra: tuple[str, ...] = ()
    n_bands: int = 4
    band_bins: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    temperature: tuple[str, ...] = ()
    ambient: str | None = None
    current: str | None = None
    load: str | None = None
    min_load: float = 1e-6

    def signals(self) -> set[str]:
        """Every signal this spec reads."""
        names = {*self.vibration, *self.trend, *self.spectra, *self.temperature}
        names.update(s for s in (self.ambient, self.current, self.load) if s)
        return names


class RollingMoments:
    """Sliding-window count, mean, RMS, peak, kurtosis and trend slope of one scalar signal.

    Power sums are kept about a frozen reference value (the first sample) so that a
    signal with a large offset and small spread (a temperature of 60 ± 0.1 °C) keeps its
    precision; raw power sums would cancel catastrophically in the kurtosis.
    """

    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque()
        self._peak: deque[tuple[float, float]] = deque()  # (t, |x|), |x| decreasing: max in O(1)
        self._ref_x: float | None = None
        self._ref_t: float = 0.0
        self._s = [0.0] * 5  # Σ d^k, d = x - ref_x, k = 0..4
        self._st = self._stt = self._stx = 0.0  # Σ τ, Σ τ², Σ τ·d with τ = t - ref_t
        self._evictions = 0

    def add(self, t: float, x: float) -> None:
        """Add one sample (t in seconds)."""
        if self._ref_x is None:
            self._ref_x, self._ref_t = x, t
        self._samples.append((t, x))
        self._accumulate(t, x, 1.0)
        a = abs(x)
        while self._peak and self._peak[-1][1] <= a:
            self._peak.pop()
        self._peak.append((t, a))

    def evict_before(self, t_min: float) -> None:
        """Forget samples older than t_min."""
        while self._samples and self._samples[0][0] < t_min:
            t, x = self._samples.popleft()
            self._accumulate(t, x, -1.0)
            self._evictions += 1
        while self._peak and self._peak[0][0] < t_min:
            self._peak.popleft()
        if not self._samples:
            self._ref_x = None
            self._s = [0.0] * 5
            self._st = self._stt = self._stx = 0.0
        elif self._evictions >= _REFRESH_EVERY:
            self._rebuild()

    def dump_state(self) -> dict[str, Any]:
        """The window's samples and running sums, JSON-able (the sums as they are, so features continue exactly)."""
        return {"samples": pack_pairs(self._samples), "peak": pack_pairs(self._peak),
                "ref_x": self._ref_x, "ref_t": self._ref_t, "s": list(self._s), "st": self._st, "stt": self._stt,
                "stx": self._stx, "evictions": self._evictions}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()`."""
        s = [float(v) for v in state["s"]]
        if len(s) != 5:
            raise ValueError("moment sums: need five")
        self._samples = deque(unpack_pairs(state["samples"]))
        self._peak = deque(unpack_pairs(state["peak"]))
        self._ref_x = None if state["ref_x"] is None else float(state["ref_x"])
        self._ref_t, self._s = float(state["ref_t"]), s
        self._st, self._stt, self._stx = float(state["st"]), float(state["stt"]), float(state["stx"])
        self._evictions = int(state["evictions"])

    def _accumulate(self, t: float, x: float, sign: float) -> None:
        if self._ref_x is None:
            raise RuntimeError("moment sums updated before the reference sample was set")
        d = x - self._ref_x
        tau = t - self._ref_t
        p = 1.0
        for k in range(5):
            self._s[k] += sign * p
            p *= d
        self._st += sign * tau
        self._stt += sign * tau * tau
        self._stx += sign * tau * d

    def _rebuild(self) -> None:
        samples = list(self._samples)
        self._ref_x, self._ref_t = samples[0][1], samples[0][0]
        self._s = [0.0] * 5
        self._st = self._stt = self._stx = 0.0
        self._evictions = 0
        for t, x in samples:
            self._accumulate(t, x, 1.0)

    @property
    def count(self) -> int:
        """Samples in the window."""
        return len(self._samples)

    @property
    def mean(self) -> float:
        """Arithmetic mean (NaN when empty)."""
        n = self._s[0]
        if n < 0.5 or self._ref_x is None:
            return math.nan
        return self._ref_x + self._s[1] / n

    def _central(self) -> tuple[float, float]:
        """Second and fourth central moments."""
        n = self._s[0]
        mu = self._s[1] / n
        s2, s3, s4 = self._s[2] / n, self._s[3] / n, self._s[4] / n
        m2 = max(s2 - mu * mu, 0.0)
        m4 = s4 - 4 * mu * s3 + 6 * mu * mu * s2 - 3 * mu**4
        return m2, max(m4, 0.0)

    @property
    def rms(self) -> float:
        """Root mean square, sqrt(mean(x²)) (NaN when empty)."""
        if self.count == 0:
            return math.nan
        m2, _ = self._central()
        return math.sqrt(max(m2 + self.mean**2, 0.0))

    @property
    def peak(self) -> float:
        """Largest |x| in the window (NaN when empty)."""
        return self._peak[0][1] if self._peak else math.nan

    @property
    def crest(self) -> float:
        """Crest factor, peak / RMS (NaN when RMS is zero)."""
        rms = self.rms
        return self.peak / rms if rms > 0 else math.nan

    @property
    def kurtosis(self) -> float:
        """Pearson kurtosis m4 / m2² (3 for Gaussian; NaN with < 4 samples or no spread)."""
        if self.count < 4:
            return math.nan
        m2, m4 = self._central()
        # A spread below rounding of the reference-shifted sums is no spread at all.
        if m2 <= 1e-12 * (1.0 + self.mean**2):
            return math.nan
        return m4 / (m2 * m2)

    @property
    def slope_per_s(self) -> float:
        """Least-squares slope of x on t, per second (NaN with < 3 samples or one instant)."""
        n = self._s[0]
        if self.count < 3:
            return math.nan
        sxx = self._stt - self._st * self._st / n
        if sxx <= 1e-12 * max(self._stt, 1.0):
            return math.nan
        sxy = self._stx - self._st * self._s[1] / n
        return sxy / sxx


class _SpectrumBands:
    """Sliding-window mean band energies of a spectrum signal."""

    def __init__(self, n_bands: int, band_bins: Mapping[str, tuple[int, int]]) -> None:
        self._n_bands = n_bands
        self._band_bins = dict(band_bins)
        self._samples: deque[tuple[float, np.ndarray]] = deque()
        self._sum: np.ndarray | None = None
        self.names: list[str] = list(band_bins) or [f"band{i}" for i in range(n_bands)]

    def add(self, t: float, spectrum: Sequence[float]) -> None:
        mag = np.asarray(spectrum, dtype=float)
        if self._band_bins:
            energies = np.array([float(np.sum(mag[lo:hi] ** 2)) for lo, hi in self._band_bins.values()])
        else:
            energies = np.array([float(np.sum(part**2)) for part in np.array_split(mag, self._n_bands)])
        if self._sum is not None and self._sum.shape != energies.shape:
            self._samples.clear()
            self._sum = None
        self._samples.append((t, energies))
        self._sum = energies.copy() if self._sum is None else self._sum + energies

    def dump_state(self) -> dict[str, Any]:
        return {"samples": [[t, e.tolist()] for t, e in self._samples],
                "sum": self._sum.tolist() if self._sum is not None else None}

    def load_state(self, state: dict[str, Any]) -> None:
        self._samples = deque((float(t), np.asarray(e, dtype=float)) for t, e in state["samples"])
        self._sum = np.asarray(state["sum"], dtype=float) if state["sum"] is not None else None

    def evict_before(self, t_min: float) -> None:
        while self._samples and self._samples[0][0] < t_min:
            _, e = self._samples.popleft()
            if self._sum is None:
                raise RuntimeError("band energy sum lost while samples are held")
            self._sum -= e
        if not self._samples:
            self._sum = None

    def features(self) -> dict[str, float]:
        if self._sum is None or not self._samples:
            return {}
        mean = self._sum / len(self._samples)
        return {name: float(v) for name, v in zip(self.names, mean, strict=False)}


class FeatureWindow:
    """Incremental window features of one asset; `update()` returns a vector at each hop.

    >>> w = FeatureWindow(FeatureSpec(vibration=("vib",)), window_s=5, hop_s=5)
    >>> [w.update("vib", t, (-1.0) ** t) for t in range(5)][-1] is None
    True
    >>> v = w.update("vib", 5, 1.0)
    >>> v.ts_s, v.values["vib_rms"], v.values["vib_crest"]
    (5.0, 1.0, 1.0)
    """

    def __init__(self, spec: FeatureSpec, *, window_s: float = 600.0, hop_s: float = 60.0,
                 emit_partial: bool = False) -> None:
        if window_s <= 0 or hop_s <= 0:
            raise ValueError("window_s and hop_s must be positive")
        self.spec = spec
        self.window_s = window_s
        self.hop_s = hop_s
        self.emit_partial = emit_partial
        self._first_s: float | None = None
        self._scalars: dict[str, RollingMoments] = {}
        self._spectra: dict[str, _SpectrumBands] = {}
        self._wanted = spec.signals()
        self._next_emit_s: float | None = None
        self._latest_s = -math.inf

    @property
    def latest_s(self) -> float:
        """Source time of the newest sample seen (epoch seconds)."""
        return self._latest_s

    def dump_state(self) -> dict[str, Any]:
        """Samples and sums of the window and where the next hop ends, JSON-able."""
        return {"first_s": self._first_s, "next_emit_s": self._next_emit_s, "latest_s": self._latest_s,
                "scalars": {k: m.dump_state() for k, m in self._scalars.items()},
                "spectra": {k: b.dump_state() for k, b in self._spectra.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of a window with the same spec, length and hop."""
        scalars: dict[str, RollingMoments] = {}
        for name, s in state["scalars"].items():
            scalars[name] = RollingMoments()
            scalars[name].load_state(s)
        spectra: dict[str, _SpectrumBands] = {}
        for name, s in state["spectra"].items():
            spectra[name] = _SpectrumBands(self.spec.n_bands, self.spec.band_bins)
            spectra[name].load_state(s)
        self._first_s = None if state["first_s"] is None else float(state["first_s"])
        self._next_emit_s = None if state["next_emit_s"] is None else float(state["next_emit_s"])
        self._latest_s = float(state["latest_s"])
        self._scalars, self._spectra = scalars, spectra

    def update(self, signal: str, ts: datetime | float, value: float | Sequence[float] | None) -> FeatureVector | None:
        """Add one reading; return the features of the window ending at a hop boundary when one is crossed.

        Windows that began before the first reading are not emitted unless `emit_partial`.
        Non-numeric, missing and non-finite values and signals outside the spec are skipped.
        A reading stamped at or after the next boundary first closes the window, then
        counts towards the next one.
        """
        if signal not in self._wanted or value is None or isinstance(value, bool | str):
            return None
        t = to_epoch_s(ts)
        emitted: FeatureVector | None = None
        if self._first_s is None:
            self._first_s = t
        if self._next_emit_s is None:
            # Align boundaries to multiples of hop_s so windows of all assets line up in time.
            self._next_emit_s = float((math.floor(t / self.hop_s) + 1) * self.hop_s)
        elif t >= self._next_emit_s:
            # A window that started before the first sample has fewer samples than the
            # baseline's windows had: its peak, kurtosis and slope are not comparable
            # (a freshly started service would raise an alert on its first window).
            if self.emit_partial or self._next_emit_s - self._first_s >= self.window_s:
                emitted = self._snapshot(self._next_emit_s)
            # Skip boundaries inside a gap in the data rather than emit stale copies.
            self._next_emit_s = float((math.floor(t / self.hop_s) + 1) * self.hop_s)
        self._latest_s = max(self._latest_s, t)
        if signal in self.spec.spectra and not isinstance(value, int | float):
            bands = self._spectra.get(signal)
            if bands is None:
                bands = self._spectra[signal] = _SpectrumBands(self.spec.n_bands, self.spec.band_bins)
            bands.add(t, value)
        elif isinstance(value, int | float) and math.isfinite(value):
            moments = self._scalars.get(signal)
            if moments is None:
                moments = self._scalars[signal] = RollingMoments()
            moments.add(t, float(value))
        return emitted

    def update_many(self, readings: Iterable[tuple[str, datetime | float, float | Sequence[float] | None]],
                    ) -> list[FeatureVector]:
        """Feed several (signal, ts, value) readings; return the vectors emitted on the way."""
        out = []
        for signal, ts, value in readings:
            v = self.update(signal, ts, value)
            if v is not None:
                out.append(v)
        return out

    @property
    def features(self) -> FeatureVector:
        """Features of the window ending at the newest sample (no hop boundary needed)."""
        return self._snapshot(self._latest_s if math.isfinite(self._latest_s) else 0.0)

    def _snapshot(self, end_s: float) -> FeatureVector:
        t_min = end_s - self.window_s
        for m in self._scalars.values():
            m.evict_before(t_min)
        for b in self._spectra.values():
            b.evict_before(t_min)
        spec = self.spec
        values: dict[str, float] = {}
        n = 0
        for name in spec.vibration:
            vib = self._scalars.get(name)
            if vib is None:
                continue
            n += vib.count
            values[f"{name}_rms"] = vib.rms
            values[f"{name}_peak"] = vib.peak
            values[f"{name}_crest"] = vib.crest
            values[f"{name}_kurtosis"] = vib.kurtosis
        for name in spec.trend:
            trend = self._scalars.get(name)
            if trend is None:
                continue
            n += trend.count
            values[f"{name}_mean"] = trend.mean
            values[f"{name}_slope_per_h"] = trend.slope_per_s * 3600.0
        for name in spec.spectra:
            bands = self._spectra.get(name)
            if bands is not None:
                values.update({f"{name}_{k}": v for k, v in bands.features().items()})
        ambient = self._mean(spec.ambient)
        for name in spec.temperature:
            temp = self._mean(name)
            values[f"{name}_rise"] = temp - ambient if spec.ambient else temp
        if spec.current and spec.load:
            load = self._mean(spec.load)
            current = self._mean(spec.current)
            values["current_per_load"] = current / load if load > spec.min_load else math.nan
        return FeatureVector(ts_s=end_s, values=values, n_samples=n)

    def _mean(self, signal: str | None) -> float:
        m = self._scalars.get(signal) if signal else None
        return m.mean if m is not None else math.nan
