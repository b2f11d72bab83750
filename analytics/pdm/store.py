"""Saving, loading and hot-reloading baseline models: joblib file plus a JSON sidecar.

A model `NAME.joblib` is accompanied by `NAME.json` holding its metadata (asset,
features, training period, version, method, failure score) and the library versions it
was made with, plus the SHA-256 of the joblib file. The sidecar is written last, and both
by rename, so a reader never sees a half-written model.

joblib files are pickles: load only models you made yourself (the checksum catches
corruption, not tampering).

`ModelRegistry` watches a folder: `get(asset)` returns the newest model (highest version,
then newest file) and reloads when a newer one appears, so a running service picks up a
retrained model without a restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn

from analytics.pdm.errors import ModelError
from analytics.pdm.models import BaselineModel, ModelInfo

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled model depends on."""
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "joblib": joblib.__version__}


def _slug(asset: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", asset).strip("_") or "asset"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: BaselineModel, directory: Path | str) -> Path:
    """Write the model and its sidecar into directory; returns the joblib path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{_slug(model.info.asset)}.v{model.info.version}"
    path = directory / f"{stem}.joblib"
    _atomic_write(path, lambda p: joblib.dump(model, p))
    sidecar = {"format": FORMAT_VERSION, **_info_to_json(model.info), "file": path.name,
               "sha256": _sha256(path), "libraries": library_versions()}
    _atomic_write(path.with_suffix(".json"),
                  lambda p: p.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8"))
    log.info("saved model %s version %d to %s", model.info.asset, model.info.version, path)
    return path


def _info_to_json(info: ModelInfo) -> dict[str, Any]:
    d = dataclasses.asdict(info)
    d["feature_names"] = list(info.feature_names)
    d["dropped_features"] = list(info.dropped_features)
    return d


def read_sidecar(path: Path | str) -> dict[str, Any]:
    """The JSON metadata of a model (path of the .joblib or the .json)."""
    side = Path(path).with_suffix(".json")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{side}: model metadata not found") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{side}: unreadable model metadata: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise ModelError(f"{side}: not a model sidecar of format {FORMAT_VERSION}")
    return data


def load_model(path: Path | str) -> BaselineModel:
    """Load a saved model, checking it against its sidecar."""
    path = Path(path).with_suffix(".joblib")
    meta = read_sidecar(path)
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if _sha256(path) != meta.get("sha256"):
        raise ModelError(f"{path}: checksum does not match its sidecar (corrupt or replaced file)")
    libs = library_versions()
    if meta.get("libraries", {}).get("scikit-learn") != libs["scikit-learn"]:
        log.warning("model %s was made with scikit-learn %s, running %s", path,
                    meta.get("libraries", {}).get("scikit-learn"), libs["scikit-learn"])
    try:
        model = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many types; all mean the same to the user
        raise ModelError(f"{path}: cannot load model: {exc}") from None
    if not isinstance(model, BaselineModel):
        raise ModelError(f"{path}: not a baseline model")
    return model


@dataclass(frozen=True, slots=True)
class _Entry:
    path: Path
    version: int
    mtime_ns: int


class ModelRegistry:
    """The newest model per asset in a folder, reloaded when a newer file appears.

    `get()` rescans at most every `check_interval_s` seconds (a folder listing and a few
    small JSON reads), so it is cheap enough to call for every window.
    """

    def __init__(self, directory: Path | str, *, check_interval_s: float = 10.0) -> None:
        self.directory = Path(directory)
        self.check_interval_s = check_interval_s
        self._loaded: dict[str, tuple[_Entry, BaselineModel]] = {}
        self._index: dict[str, _Entry] = {}
        self._scanned_at = -float("inf")

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.directory)!r}, check_interval_s={self.check_interval_s})"

    def _scan(self) -> None:
        index: dict[str, _Entry] = {}
        for side in self.directory.glob("*.json"):
            try:
                meta = read_sidecar(side)
                entry = _Entry(side.with_suffix(".joblib"), int(meta["version"]), side.stat().st_mtime_ns)
                asset = str(meta["asset"])
            except (ModelError, KeyError, ValueError, OSError) as exc:
                log.debug("skipping %s: %s", side, exc)
                continue
            best = index.get(asset)
            if best is None or (entry.version, entry.mtime_ns) > (best.version, best.mtime_ns):
                index[asset] = entry
        self._index = index
        self._scanned_at = time.monotonic()

    def assets(self) -> list[str]:
        """Assets with a model in the folder."""
        self.refresh()
        return sorted(self._index)

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the folder if the check interval has passed (or when forced)."""
        if force or time.monotonic() - self._scanned_at >= self.check_interval_s:
            self._scan()

    def get(self, asset: str) -> BaselineModel | None:
        """The newest model of the asset (None if there is none); loads a newer one when it appears."""
        self.refresh()
        entry = self._index.get(asset)
        if entry is None:
            return None
        loaded = self._loaded.get(asset)
        if loaded is not None and loaded[0] == entry:
            return loaded[1]
        try:
            model = load_model(entry.path)
        except ModelError as exc:
            # Keep serving the model we have rather than stop scoring because of a bad file.
            log.error("asset %s: cannot load %s: %s", asset, entry.path, exc)
            return loaded[1] if loaded else None
        self._loaded[asset] = (entry, model)
        log.info("asset %s: loaded model version %d from %s", asset, model.info.version, entry.path)
        return model

    def next_version(self, asset: str) -> int:
        """One more than the highest version saved for the asset (1 if none)."""
        self.refresh(force=True)
        entry = self._index.get(asset)
        return entry.version + 1 if entry else 1
