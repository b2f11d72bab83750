"""Baselines from InfluxDB history: an asset's telemetry over a healthy period → features → saved model.

The readings are read back from the `telemetry` measurement (docs/schema.md) with InfluxQL
on the v1 `/query` API, in time-ordered chunks so a month of 1 Hz data never sits in one
response, and replayed through the same `AssetFeatures` (window, running gate, regimes)
the streaming service uses, so a model trained here scores live windows like for like.
Asset, signals and times are bound parameters, never spliced into the query text.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from analytics.pdm.config import PdmAssetConfig
from analytics.pdm.errors import DataError
from analytics.pdm.features import FeatureVector
from analytics.pdm.models import BaselineModel
from analytics.pdm.service import AssetFeatures, learn_baseline, model_key
from analytics.pdm.store import ModelRegistry, save_model
from twin.influx import InfluxDB
from twin.readings import format_ts
from twin.topics import AssetPath

log = logging.getLogger(__name__)


async def read_readings(db: InfluxDB, path: AssetPath, signals: Sequence[str], start: datetime, end: datetime, *,
                        chunk: timedelta = timedelta(hours=6),
                        ) -> AsyncIterator[tuple[str, float, float | str]]:
    """Good readings (signal, epoch seconds, number or text) of the asset's signals in [start, end), in time order."""
    names = sorted(set(signals))
    if not names:
        return
    sig_clause = " OR ".join(f'"signal" = $s{i}' for i in range(len(names)))
    query = ('SELECT "value", "text", "quality", "signal" FROM "telemetry" WHERE "site" = $site AND "area" = $area '
             f'AND "line" = $line AND "asset" = $asset AND ({sig_clause}) AND time >= $start AND time < $end '
             'ORDER BY time ASC')
    params: dict[str, str] = {"site": path.site, "area": path.area, "line": path.line, "asset": path.asset}
    params.update({f"s{i}": n for i, n in enumerate(names)})
    t = start
    while t < end:
        t_next = min(t + chunk, end)
        series = await db.query(query, params={**params, "start": format_ts(t), "end": format_ts(t_next)})
        for s in series:
            for rec in s.records():
                if rec.get("quality") != "good":
                    continue
                value = rec.get("value")
                text = rec.get("text")
                ts_s = int(rec["time"]) / 1e9
                if value is not None:
                    yield str(rec["signal"]), ts_s, float(value)
                elif text is not None:
                    yield str(rec["signal"]), ts_s, str(text)
        t = t_next


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """One model saved by `train_from_history` (one per regime with a regime signal)."""

    key: str
    path: Path
    model: BaselineModel
    windows: int


async def history_features(db: InfluxDB, path: AssetPath, config: PdmAssetConfig, start: datetime, end: datetime,
                           ) -> dict[str | None, list[FeatureVector]]:
    """Feature vectors of the asset's history in [start, end), per regime (None without a regime signal)."""
    features = AssetFeatures(config)
    vectors: dict[str | None, list[FeatureVector]] = {}
    n = 0
    async for signal, ts_s, value in read_readings(db, path, sorted(config.signals()), start, end):
        n += 1
        if signal == config.regime_signal:
            features.set_regime(value)
            continue
        if isinstance(value, str) or (config.regime_signal and features.regime is None):
            continue
        fv = features.update(signal, ts_s, value)
        if fv is not None:
            vectors.setdefault(features.regime, []).append(fv)
    if not vectors:
        raise DataError(f"{path}: {n} readings between {format_ts(start)} and {format_ts(end)} gave no feature "
                        f"window (window {config.window_s:g} s)")
    return vectors


def save_baselines(vectors: dict[str | None, list[FeatureVector]], path: AssetPath, config: PdmAssetConfig,
                   model_dir: Path, *, trim: float | None = 0.001) -> list[TrainedModel]:
    """Fit a baseline per regime and save each as the next version in model_dir."""
    registry = ModelRegistry(model_dir)
    out = []
    for regime, vs in vectors.items():
        key = model_key(path, regime)
        version = registry.next_version(key) if model_dir.exists() else 1
        model = learn_baseline(vs, asset=key, config=config, version=version, trim=trim)
        out.append(TrainedModel(key, save_model(model, model_dir), model, len(vs)))
        log.info("asset %s: model version %d from %d windows of history", key, version, len(vs))
    return out


async def train_from_history(db: InfluxDB, path: AssetPath, config: PdmAssetConfig, start: datetime, end: datetime,
                             model_dir: Path, *, trim: float | None = 0.001) -> list[TrainedModel]:
    """Features of the asset's history in [start, end), a baseline per regime, saved as the next versions."""
    vectors = await history_features(db, path, config, start, end)
    return save_baselines(vectors, path, config, model_dir, trim=trim)
