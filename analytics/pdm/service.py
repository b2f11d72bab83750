"""The predictive-maintenance streaming analytic: telemetry in, `health` points and maintenance alerts out.

`PdmAnalytic` implements `analytics.runtime.Analytic`; `AnalyticRunner` does the I/O
around it (MQTT in, InfluxDB and the alerts topic out). Per asset with a `pdm:` section:

1. `AssetFeatures` turns its readings into window feature vectors (`FeatureWindow`),
   using only good readings and, when `running_signal` is set, only while the machine runs.
2. The baseline model comes from the model folder (`ModelRegistry`, which also picks up a
   retrained file without a restart). When there is none, the first `baseline_windows`
   feature vectors are taken as healthy, a baseline is fitted (`fit_baseline`) and saved
   to the folder, so it survives a restart and `twin pdm train…` can replace it.
3. Every later window is scored (`AssetScorer`): one `health` point per window
   (docs/schema.md), and an alert event when the alert state changes — firing on
   normal → warning/alarm, cleared on → normal. Hysteresis (deadband and dwell) lives in
   `AlertHysteresis`, so a score hovering at a threshold does not flap.

Everything runs on source time: windows, baselines and RUL follow the readings'
timestamps, so a simulator at `--speed 100` gives the same results as real time. The
only I/O is reading and writing model files.

Restarts (`analytics.runtime.Checkpointed`): the snapshot holds each asset's feature
window (samples and running sums), running gate and regime, the baseline windows being
collected, the alert hysteresis (level and dwell streak), the RUL history and the alert
bookkeeping, so a restarted service emits the same windows, scores and alerts as one that
never stopped. A reading at or before the last source time of its signal is ignored (an
at-least-once redelivery must not enter a window twice). When the asset's model file
changed meanwhile, the alert level carries over and the RUL history restarts, as on a
hot reload; an asset whose `pdm:` section changed starts afresh.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analytics.pdm.config import PdmAssetConfig
from analytics.pdm.errors import DataError, PdmError
from analytics.pdm.features import FeatureVector, FeatureWindow
from analytics.pdm.hysteresis import NORMAL
from analytics.pdm.models import BaselineModel, fit_baseline
from analytics.pdm.plugin import pdm_config
from analytics.pdm.scorer import AssetScorer, HealthResult
from analytics.pdm.store import ModelRegistry, save_model
from analytics.runtime import Output
from analytics.state import SnapshotError, decode_snapshot, encode_snapshot, ts_in, ts_out
from twin.errors import ConfigError
from twin.events import AlertEvent, EventState, Severity
from twin.influx import FieldValue, to_line
from twin.plant import Plant
from twin.readings import Quality, Reading
from twin.topics import AssetPath

log = logging.getLogger(__name__)

MEASUREMENT = "health"
SOURCE = "pdm"
ALERT_KEY = "pdm:health"
SEVERITY = {"warning": Severity.WARNING, "alarm": Severity.CRITICAL}

# A feature must be finite in this share of the baseline windows to enter a learnt model;
# rarer ones (e.g. a kurtosis of a signal that is often constant) would leave too few
# complete rows to fit on.
_MIN_FEATURE_COVERAGE = 0.9
#: Version of `PdmAnalytic.snapshot()`'s state; a snapshot of another version starts fresh.
SNAPSHOT_VERSION = 1


class AssetFeatures:
    """One asset's readings → window feature vectors, with the running gate and a fill check.

    A window is used only when it holds at least `min_fill` of the samples a full window
    holds (a slowly decaying maximum of recent windows): a window that is mostly a stop or a
    data gap has a different peak and kurtosis distribution than the baseline's full windows.

    >>> cfg = PdmAssetConfig(vibration=["vib"], window_s=10, hop_s=10, baseline_windows=10)
    >>> f = AssetFeatures(cfg)
    >>> [f.update("vib", float(t), 1.0) for t in range(20)][-1] is None
    True
    >>> f.update("vib", 20.0, 1.0).values["vib_rms"]
    1.0
    """

    def __init__(self, config: PdmAssetConfig, *, min_fill: float = 0.5) -> None:
        self.config = config
        self.min_fill = min_fill
        self.window = FeatureWindow(config.feature_spec(), window_s=config.window_s, hop_s=config.hop_s)
        self._feature_signals = config.feature_spec().signals()
        self._running = config.running_signal is None
        self._full_n = 0.0
        self.skipped_windows = 0
        self.regime: str | None = None

    def dump_state(self) -> dict[str, Any]:
        """The running gate, the fill reference, the regime and the window, JSON-able."""
        return {"running": self._running, "full_n": self._full_n, "skipped_windows": self.skipped_windows,
                "regime": self.regime, "window": self.window.dump_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `dump_state()` of features of the same configuration."""
        window = FeatureWindow(self.config.feature_spec(), window_s=self.config.window_s, hop_s=self.config.hop_s)
        window.load_state(state["window"])
        self._running, self._full_n = bool(state["running"]), float(state["full_n"])
        self.skipped_windows = int(state["skipped_windows"])
        self.regime = None if state["regime"] is None else str(state["regime"])
        self.window = window

    @property
    def running(self) -> bool:
        """Whether the asset is in its monitored regime (always, without a running_signal)."""
        return self._running

    def set_regime(self, value: object) -> bool:
        """Note the value of the regime signal; True (and a fresh window) when the regime changed.

        The window restarts so that no window mixes two regimes; its first vector comes a
        full window later (FeatureWindow does not emit windows that began before its data).
        """
        regime = str(value)
        if regime == self.regime:
            return False
        self.regime = regime
        self.window = FeatureWindow(self.config.feature_spec(), window_s=self.config.window_s, hop_s=self.config.hop_s)
        return True

    def update(self, signal: str, ts: datetime | float, value: float) -> FeatureVector | None:
        """Feed one good numeric reading; a feature vector when a usable window closed."""
        if signal == self.config.running_signal:
            self._running = value > self.config.running_above
        if not self._running or signal not in self._feature_signals:
            return None
        fv = self.window.update(signal, ts, value)
        if fv is None:
            return None
        # Decays by 1 % per window so a lasting drop of the sample rate (an edge agent
        # reconfigured) is accepted after some tens of windows.
        self._full_n = max(float(fv.n_samples), 0.99 * self._full_n)
        if fv.n_samples < self.min_fill * self._full_n:
            self.skipped_windows += 1
            return None
        return fv


def learn_baseline(vectors: Sequence[FeatureVector], *, asset: str, config: PdmAssetConfig, version: int = 1,
                   trim: float | None = 0.001) -> BaselineModel:
    """Fit a baseline on feature vectors taken as healthy; DataError when they cannot make one."""
    if not vectors:
        raise DataError(f"{asset}: no feature windows to learn a baseline from")
    names = sorted({n for v in vectors for n in v.values})
    x = np.array([v.as_array(names) for v in vectors], dtype=float)
    coverage = np.isfinite(x).mean(axis=0)
    keep = coverage >= _MIN_FEATURE_COVERAGE
    if not keep.any():
        raise DataError(f"{asset}: no feature is available in {_MIN_FEATURE_COVERAGE:.0%} of the baseline windows")
    dropped = [n for n, k in zip(names, keep, strict=True) if not k]
    if dropped:
        log.info("asset %s: features too often missing to learn: %s", asset, ", ".join(dropped))
    names = [n for n, k in zip(names, keep, strict=True) if k]
    start = vectors[0].ts_s - config.window_s
    return fit_baseline(x[:, keep], names, asset=asset, method=config.method, failure_score=config.failure_score,
                        version=version, train_start=_iso(start), train_end=_iso(vectors[-1].ts_s), trim=trim)


def _iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).isoformat().replace("+00:00", "Z")


def health_fields(result: HealthResult) -> dict[str, FieldValue | None]:
    """The fields of a `health` point (docs/schema.md): numbers as floats; unknown RUL left out."""
    def num(v: float | None) -> float | None:
        return float(v) if v is not None and math.isfinite(v) else None

    return {"health_index": num(result.health_index), "anomaly_score": num(result.anomaly_score),
            "rul_hours": num(result.rul_hours), "rul_low_hours": num(result.rul_hours_low),
            "rul_high_hours": num(result.rul_hours_high), "state": result.state,
            "model_version": float(result.model_version)}


def health_line(path: AssetPath, result: HealthResult) -> str:
    """One `health` point in line protocol (influxdb-client's serializer, via twin.influx.to_line)."""
    tags = {"site": path.site, "area": path.area, "line": path.line, "asset": path.asset}
    # Window ends are multiples of hop_s: round to the microsecond so float noise never
    # makes two writes of the same window land on different nanoseconds.
    ts_ns = round(result.ts_s * 1e6) * 1000
    return to_line(MEASUREMENT, tags, health_fields(result), ts_ns)


@dataclasses.dataclass(slots=True)
class _Asset:
    path: AssetPath
    config: PdmAssetConfig
    features: AssetFeatures
    scorer: AssetScorer | None = None
    baselines: dict[str, list[FeatureVector]] = dataclasses.field(default_factory=dict)
    last_event_s: float = -math.inf
    rul_announced: bool = False
    firing_kind: str = "health_warning"
    firing_severity: Severity = Severity.WARNING
    last_ts: dict[str, datetime] = dataclasses.field(default_factory=dict)  # signal → last source time used

    @property
    def key(self) -> str:
        """The model id of the current regime: the asset path, plus `#regime` with a regime signal."""
        return model_key(self.path, self.features.regime if self.config.regime_signal else None)


def model_key(path: AssetPath, regime: str | None = None) -> str:
    """The id a model of the asset (and regime) is saved under: `site/area/line/asset[#regime]`."""
    return str(path) if regime is None else f"{path}#{regime}"


class PdmAnalytic:
    """Streaming health scoring of the assets with a `pdm:` section (an `analytics.runtime.Analytic`).

    Models are keyed by the full asset path (`site/area/line/asset`, plus `#regime` with a
    regime signal), the id `twin pdm train-history` and the auto-baseline save them under.

    `trim` (outlier trimming of the auto-baseline, see `models.trim_outliers`) is off by
    default: consecutive windows overlap and drift together (tool wear, ambient), and on
    the simulator the robust distance took half of a healthy baseline for outliers.
    """

    name = "pdm"

    def __init__(self, assets: Mapping[AssetPath, PdmAssetConfig], model_dir: Path | str, *,
                 check_interval_s: float = 10.0, alert_refresh_s: float = 3600.0, min_fill: float = 0.5,
                 trim: float | None = None,
                 on_result: Callable[[AssetPath, HealthResult], None] | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.check_interval_s = check_interval_s
        self.alert_refresh_s = alert_refresh_s
        self.min_fill = min_fill
        self.trim = trim
        self.on_result = on_result
        self.asset_configs = dict(assets)
        self.registry = ModelRegistry(self.model_dir, check_interval_s=check_interval_s)
        self._assets = {path: _Asset(path, cfg, AssetFeatures(cfg, min_fill=min_fill)) for path, cfg in assets.items()}
        self._signals = {path: cfg.signals() for path, cfg in assets.items()}
        self.skipped_readings = 0
        self.duplicates = 0  # readings at or before the last source time of their signal (redeliveries)

    def __repr__(self) -> str:
        return (f"PdmAnalytic({len(self._assets)} assets, {str(self.model_dir)!r}, "
                f"check_interval_s={self.check_interval_s})")

    @property
    def assets(self) -> list[AssetPath]:
        """The monitored assets."""
        return list(self._assets)

    def health(self, asset: AssetPath) -> HealthResult | None:
        """The latest health of an asset (None before its first scored window)."""
        a = self._assets.get(asset)
        return a.scorer.last if a is not None and a.scorer is not None else None

    def learning(self, asset: AssetPath) -> int | None:
        """Baseline windows collected so far while no model exists; None once the asset is scored."""
        a = self._assets[asset]
        return None if a.scorer is not None else sum(len(b) for b in a.baselines.values())

    def wants(self, reading: Reading) -> bool:
        """Readings of a monitored asset's feature or running signals."""
        signals = self._signals.get(reading.asset)
        return signals is not None and reading.signal in signals

    def process(self, readings: Sequence[Reading]) -> Output:
        """Update windows and scores with readings (arrival order); health points and alert events."""
        out = Output()
        for r in readings:
            a = self._assets.get(r.asset)
            if a is None or r.signal not in self._signals[r.asset]:
                continue
            last = a.last_ts.get(r.signal)
            if last is not None and r.ts <= last:
                self.duplicates += 1  # a redelivery (or a late sample): windows take each reading once
                continue
            a.last_ts[r.signal] = r.ts
            if r.signal == a.config.regime_signal:
                if r.quality is Quality.GOOD and r.value is not None:
                    a.features.set_regime(r.value)
                continue
            value = r.number
            if value is None:
                self.skipped_readings += 1
                continue
            fv = a.features.update(r.signal, r.ts, value)
            if fv is not None:
                self._window(a, fv, out)
        return out

    def feed(self, asset: AssetPath, readings: Iterable[tuple[str, datetime | float, float | str]]) -> Output:
        """Feed (signal, ts, value) tuples of one asset, already known good; for replays and evaluation."""
        out = Output()
        a = self._assets[asset]
        for signal, ts, value in readings:
            if signal == a.config.regime_signal:
                a.features.set_regime(value)
                continue
            if isinstance(value, str):
                continue
            fv = a.features.update(signal, ts, value)
            if fv is not None:
                self._window(a, fv, out)
        return out

    # -- checkpoints ----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Every asset's window, baseline collection, scorer and alert bookkeeping (`Checkpointed`)."""
        assets = []
        for path, a in self._assets.items():
            scorer = None
            if a.scorer is not None:
                scorer = {"model": _info(a.scorer.model), "state": a.scorer.dump_state()}
            assets.append({
                "asset": str(path), "config": a.config.model_dump(mode="json"), "features": a.features.dump_state(),
                "scorer": scorer,
                "baselines": {k: [_fv_out(v) for v in vs] for k, vs in a.baselines.items()},
                "last_event_s": a.last_event_s, "rul_announced": a.rul_announced, "firing_kind": a.firing_kind,
                "firing_severity": a.firing_severity.value,
                "last_ts": {k: ts_out(t) for k, t in a.last_ts.items()},
            })
        state = {"assets": assets, "skipped_readings": self.skipped_readings, "duplicates": self.duplicates}
        return encode_snapshot(self.name, SNAPSHOT_VERSION, state)

    def restore(self, data: bytes) -> None:
        """Continue from `snapshot()`; assets whose `pdm:` section changed start afresh (`Checkpointed`)."""
        state = decode_snapshot(data, self.name, SNAPSHOT_VERSION)
        fresh = PdmAnalytic(self.asset_configs, self.model_dir, check_interval_s=self.check_interval_s,
                            alert_refresh_s=self.alert_refresh_s, min_fill=self.min_fill, trim=self.trim,
                            on_result=self.on_result)
        fresh.registry = self.registry
        try:
            fresh._load(state)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise SnapshotError(f"PdM snapshot does not fit: {type(exc).__name__}: {exc}") from None
        self._assets = fresh._assets
        self.skipped_readings, self.duplicates = fresh.skipped_readings, fresh.duplicates

    def _load(self, state: dict[str, Any]) -> None:
        by_name = {str(p): a for p, a in self._assets.items()}
        for s in state["assets"]:
            a = by_name.get(s["asset"])
            if a is None:
                log.info("PdM: %s is no longer monitored; its saved state is dropped", s["asset"])
                continue
            last_ts = {str(k): t for k, v in s["last_ts"].items() if (t := ts_in(v)) is not None}
            if s["config"] != a.config.model_dump(mode="json"):
                log.warning("PdM %s: its pdm: section changed since the checkpoint; its windows start afresh",
                            a.path.asset)
                a.last_ts = last_ts  # redeliveries stay ignored
                continue
            a.features.load_state(s["features"])
            a.baselines = {str(k): [_fv_in(v) for v in vs] for k, vs in s["baselines"].items()}
            a.last_event_s, a.rul_announced = float(s["last_event_s"]), bool(s["rul_announced"])
            a.firing_kind, a.firing_severity = str(s["firing_kind"]), Severity(s["firing_severity"])
            a.last_ts = last_ts
            if s["scorer"] is not None:
                a.scorer = self._scorer(a, s["scorer"])
        self.skipped_readings, self.duplicates = int(state["skipped_readings"]), int(state["duplicates"])

    def _scorer(self, a: _Asset, saved: dict[str, Any]) -> AssetScorer | None:
        """The scorer of a restored asset, with the model the registry has now."""
        key = str(saved["model"]["asset"])
        model = self.registry.get(key)
        if model is None:
            log.warning("PdM %s: model %s is gone from %s; scoring waits for a new baseline", a.path.asset, key,
                        self.model_dir)
            return None
        scorer = AssetScorer(model, dwell=a.config.dwell_windows)
        same = _info(model) == saved["model"]
        if not same:
            log.info("PdM %s: model %s changed since the checkpoint (version %s → %d); alert level kept, "
                     "RUL history restarted", a.path.asset, key, saved["model"].get("version"), model.info.version)
        scorer.load_state(saved["state"], same_model=same)
        return scorer

    # -- one window --------------------------------------------------------------------------

    def _window(self, a: _Asset, fv: FeatureVector, out: Output) -> None:
        if a.config.regime_signal and a.features.regime is None:
            return  # which baseline applies is not known yet
        key = a.key
        model = self.registry.get(key)
        if model is None:
            model = self._learn(a, key, fv)
            if model is None:
                return
        if a.scorer is None:
            a.scorer = AssetScorer(model, dwell=a.config.dwell_windows)
        elif model.info != a.scorer.model.info:
            # Another regime's baseline continues the same machine's history; a retrained
            # file of the same regime restarts it. The alert state stays either way.
            a.scorer.use_model(model, keep_history=model.info.asset != a.scorer.model.info.asset)
        result = a.scorer.update(fv)
        out.lines.append(health_line(a.path, result))
        event = self._event(a, result)
        if event is not None:
            out.events.append(event)
        if self.on_result is not None:
            self.on_result(a.path, result)

    def _learn(self, a: _Asset, key: str, fv: FeatureVector) -> BaselineModel | None:
        baseline = a.baselines.setdefault(key, [])
        baseline.append(fv)
        if len(baseline) < a.config.baseline_windows:
            return None
        del a.baselines[key]
        try:
            model = learn_baseline(baseline, asset=key, config=a.config, version=self.registry.next_version(key),
                                   trim=self.trim)
        except PdmError as exc:
            # Not enough usable windows (e.g. a signal never arrived): start collecting afresh.
            log.warning("asset %s: cannot learn a baseline from %d windows: %s", key, len(baseline), exc)
            return None
        try:
            save_model(model, self.model_dir)
            self.registry.refresh(force=True)
        except OSError as exc:
            log.error("asset %s: learnt baseline not saved to %s: %s", key, self.model_dir, exc)
        log.info("asset %s: baseline learnt from %d windows (%s to %s)", key, len(baseline),
                 model.info.train_start, model.info.train_end)
        return model

    def _event(self, a: _Asset, result: HealthResult) -> AlertEvent | None:
        if result.state == NORMAL:
            if not result.changed:
                return None
            a.rul_announced = False
            message = f"{self._who(a)}: health {result.health_index:.0f}, back to normal"
            return self._alert(a, result, EventState.CLEARED, a.firing_kind, a.firing_severity, message)
        refresh = (not result.changed
                   and ((result.rul_hours is not None and not a.rul_announced)
                        or (self.alert_refresh_s > 0 and result.ts_s - a.last_event_s >= self.alert_refresh_s)))
        if not result.changed and not refresh:
            return None
        a.firing_kind, a.firing_severity = f"health_{result.state}", SEVERITY.get(result.state, Severity.WARNING)
        a.rul_announced = a.rul_announced or result.rul_hours is not None
        text = dataclasses.replace(result, asset=a.path.asset).alert_text(a.config.component)
        return self._alert(a, result, EventState.FIRING, a.firing_kind, a.firing_severity, text)

    def _who(self, a: _Asset) -> str:
        return f"{a.path.asset} {a.config.component}".strip()

    def _alert(self, a: _Asset, result: HealthResult, state: EventState, kind: str, severity: Severity,
               message: str) -> AlertEvent:
        a.last_event_s = result.ts_s
        details: dict[str, Any] = {k: v for k, v in health_fields(result).items() if v is not None}
        details["previous_state"] = result.previous_state
        return AlertEvent(asset=a.path, source=SOURCE, kind=kind, severity=severity, state=state, key=ALERT_KEY,
                          message=message, ts=datetime.fromtimestamp(result.ts_s, tz=UTC), details=details)


def _info(model: BaselineModel) -> dict[str, Any]:
    """A model's identity as JSON would give it back (tuples as lists), to tell whether it changed."""
    info: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(model.info)))
    return info


def _fv_out(v: FeatureVector) -> dict[str, Any]:
    return {"ts_s": v.ts_s, "values": dict(v.values), "n_samples": v.n_samples}


def _fv_in(s: dict[str, Any]) -> FeatureVector:
    return FeatureVector(ts_s=float(s["ts_s"]), values={str(k): float(x) for k, x in s["values"].items()},
                         n_samples=int(s["n_samples"]))


def pdm_assets(plant: Plant) -> dict[AssetPath, PdmAssetConfig]:
    """The assets of a plant with a `pdm:` section; ConfigError when a running_signal is not theirs."""
    out: dict[AssetPath, PdmAssetConfig] = {}
    for path, asset in plant.assets():
        cfg = pdm_config(asset)
        if cfg is None:
            continue
        for what, name in (("running_signal", cfg.running_signal), ("regime_signal", cfg.regime_signal)):
            if name and name not in asset.signals:
                raise ConfigError(f"{path.area}.{path.line}.{path.asset}.pdm.{what}: unknown signal {name!r}")
        out[path] = cfg
    return out


def build_pdm(plant: Plant, model_dir: Path | str, **options: Any) -> PdmAnalytic | None:
    """The PdM analytic for a plant (None when no asset has a `pdm:` section); options go to PdmAnalytic."""
    assets = pdm_assets(plant)
    if not assets:
        return None
    return PdmAnalytic(assets, model_dir, **options)
