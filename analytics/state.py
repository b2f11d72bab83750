"""Checkpoints of streaming analytics: versioned snapshots in a small SQLite file, one per analytic and instance.

An analytic that implements `analytics.runtime.Checkpointed` turns its state into bytes
(`snapshot()`) and back (`restore(data)`); `AnalyticRunner` restores it when it starts and
saves a snapshot after every processed batch, before the broker is acknowledged
(analytics/runtime.py says why that order loses and doubles nothing).

Snapshot format: UTF-8 JSON `{"format": FORMAT, "analytic": name, "version": n,
"state": {...}}`. JSON, not pickle: loading a file must never run code, a snapshot is
readable with `sqlite3` + `python -m json.tool` when something looks wrong, and it holds
only state (sums, windows, last source times), never configuration, so an analytic built
from an edited plant file takes what still fits and starts the rest fresh. Python's json
writes floats with `repr`, which round-trips every double exactly (NaN and ±inf too), so
a restored chart or integrator continues bit for bit; long sample windows are packed
(`pack_floats`: base64 of the doubles, exact too). Not compressed: the snapshots that are
large are windows of noisy samples, which do not compress, and zlib was half the cost. Each analytic versions its own
`state`; a snapshot of another version, another analytic or that cannot be read is
refused with `SnapshotError`, and the runner then starts fresh with a warning.

The file: `$TWIN_STATE_DIR/analytics-state.sqlite`, WAL mode, `synchronous=FULL`. FULL
(an fsync per checkpoint) rather than the edge queue's NORMAL because the broker is
acknowledged right after the commit: with NORMAL a power cut could roll the state back to
an earlier batch whose successors the broker has already forgotten, a hole in the energy
totals that nothing would ever fill. Several runners (SPC, PdM, energy, in one process or
several) share the file, each with its own connection and rows.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import sqlite3
import sys
import threading
from array import array
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import TwinError

FORMAT = "factory-twin/analytics-snapshot"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    analytic TEXT NOT NULL,
    instance TEXT NOT NULL,
    data BLOB NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (analytic, instance)
);
"""


class StateError(TwinError):
    """Root of the errors of analytic checkpoints."""


class SnapshotError(StateError):
    """A snapshot that cannot be restored: unreadable, of another analytic, or of an unknown version."""


class StateStoreError(StateError):
    """The checkpoint file cannot be opened, read or written."""


def state_path(state_dir: Path | str) -> Path:
    """Where the analytics of this host keep their checkpoints."""
    return Path(state_dir) / "analytics-state.sqlite"


def encode_snapshot(analytic: str, version: int, state: dict[str, Any]) -> bytes:
    """The bytes of a snapshot of `analytic`'s `state` (JSON-able) in format version `version`."""
    return json.dumps({"format": FORMAT, "analytic": analytic, "version": version, "state": state},
                      separators=(",", ":")).encode()


def decode_snapshot(data: bytes, analytic: str, version: int) -> dict[str, Any]:
    """The `state` of a snapshot made by `encode_snapshot`; SnapshotError when it does not fit."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError("not an analytics snapshot")
    if doc.get("analytic") != analytic:
        raise SnapshotError(f"a snapshot of {doc.get('analytic')!r}, not of {analytic!r}")
    if doc.get("version") != version:
        raise SnapshotError(f"snapshot format version {doc.get('version')!r}; this version reads {version}")
    state = doc.get("state")
    if not isinstance(state, dict):
        raise SnapshotError("snapshot without a state")
    return state


def pack_floats(values: Iterable[float]) -> str:
    """Many floats for a snapshot: base64 of little-endian doubles (exact, and far cheaper than JSON numbers).

    For the long sample windows of PdM: 18 000 samples cost 50 ms as JSON numbers, 1 ms packed.
    """
    packed = array("d", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack_floats(text: Any) -> array[float]:
    """The inverse of `pack_floats`; SnapshotError when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
        packed = array("d")
        packed.frombytes(raw)
    except (TypeError, ValueError, binascii.Error):
        raise SnapshotError("not a packed float array") from None
    if sys.byteorder == "big":
        packed.byteswap()
    return packed


def pack_pairs(pairs: Iterable[tuple[float, float]]) -> str:
    """(t, x) pairs, packed as `pack_floats` of t0, x0, t1, x1, …"""
    return pack_floats(itertools.chain.from_iterable(pairs))


def unpack_pairs(text: Any) -> list[tuple[float, float]]:
    """The inverse of `pack_pairs`."""
    flat = unpack_floats(text)
    if len(flat) % 2:
        raise SnapshotError("an odd number of floats for pairs")
    return list(zip(flat[0::2], flat[1::2], strict=True))


def ts_out(ts: datetime | None) -> str | None:
    """A source time for a snapshot (ISO 8601 keeps the microseconds and the offset)."""
    return ts.isoformat() if ts is not None else None


def ts_in(text: Any) -> datetime | None:
    """A source time from a snapshot; SnapshotError when it is not one."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise SnapshotError(f"not a timestamp: {text!r}") from None


def ts_req(text: Any) -> datetime:
    """A source time that must be there."""
    ts = ts_in(text)
    if ts is None:
        raise SnapshotError("missing timestamp")
    return ts


class StateStore:
    """Snapshots keyed by (analytic, instance) in one SQLite file; blocking, so call it through `asyncio.to_thread`.

    >>> import tempfile, pathlib
    >>> with StateStore(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite") as store:
    ...     store.save("spc", "1", b"...")
    ...     store.load("spc", "1")
    b'...'
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # see the module docstring
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(f"cannot open the analytics state file {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, analytic: str, instance: str) -> bytes | None:
        """The last snapshot saved for this analytic and instance, or None."""
        try:
            with self._lock:
                row = self._db.execute("SELECT data FROM snapshots WHERE analytic = ? AND instance = ?",
                                       (analytic, instance)).fetchone()
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot read {self.path}: {exc}") from None
        return bytes(row[0]) if row is not None else None

    def save(self, analytic: str, instance: str, data: bytes) -> None:
        """Replace the snapshot of this analytic and instance (durable when this returns)."""
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO snapshots (analytic, instance, data, saved_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (analytic, instance) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
                    (analytic, instance, data, datetime.now(UTC).isoformat()))
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot write {self.path}: {exc}") from None

    def forget(self, analytic: str, instance: str) -> bool:
        """Delete a snapshot (the analytic starts fresh next time); True when there was one."""
        try:
            with self._lock:
                cur = self._db.execute("DELETE FROM snapshots WHERE analytic = ? AND instance = ?",
                                       (analytic, instance))
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot write {self.path}: {exc}") from None
        return cur.rowcount > 0

    def saved(self) -> list[tuple[str, str, datetime, int]]:
        """(analytic, instance, saved at, bytes) of every snapshot kept."""
        try:
            with self._lock:
                rows = self._db.execute("SELECT analytic, instance, saved_at, length(data) FROM snapshots "
                                        "ORDER BY analytic, instance").fetchall()
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot read {self.path}: {exc}") from None
        return [(a, i, datetime.fromisoformat(t), int(n)) for a, i, t, n in rows]
