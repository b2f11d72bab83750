"""The edge agent's disk-backed store-and-forward queue (SQLite in WAL mode).

Every reading is written here before it is published and deleted only once ingest said it
is in the database (the end-to-end acknowledgement, edge_agent/agent.py), so a broker
outage, a broker that loses messages or an agent crash loses nothing that reached the
queue (DESIGN.md §6; the Telegraf/Redpanda Connect "forget only on ack" contract).
The queue is bounded: when full it drops the oldest rows and counts them, because on a
shop floor fresh data matters more than data older than the outage budget.

WAL with synchronous=NORMAL survives a process crash; a power cut may lose the last
transaction (SQLite "WAL mode" documentation), the usual trade-off for edge gateways.

The methods block on disk I/O, so the agent calls them through `asyncio.to_thread`; one
lock serialises them, as they share one connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twin.filelock import ExclusiveLock, InUse

QueueInUse = InUse  # another process (a second edge agent) has the queue file open


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """One queued reading: the topic it goes to and its JSON encoding."""

    id: int
    topic: str
    data: bytes


class DiskQueue:
    """A bounded FIFO of (topic, data) rows in one SQLite file; a context manager."""

    def __init__(self, path: Path, *, max_items: int = 1_000_000) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.path = path
        self.max_items = max_items
        path.parent.mkdir(parents=True, exist_ok=True)
        # Two agents on one queue would publish and delete each other's rows (twin/filelock.py).
        self._file_lock = ExclusiveLock(
            path.with_name(path.name + ".lock"), what=f"the edge queue {path}",
            hint="give each edge agent its own --agent-id (the queue file is named after it)")
        self._file_lock.acquire()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS queue "
            "(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, data BLOB NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    def __enter__(self) -> DiskQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database file and release the lock on it."""
        with self._lock:
            self._db.close()
        self._file_lock.release()

    @property
    def depth(self) -> int:
        """Rows waiting to be acknowledged."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Rows dropped because the queue was full, over the queue file's lifetime."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()
        return int(row[0]) if row else 0

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> int:
        """Append rows in one transaction; returns how many old rows were dropped to make room."""
        if not items:
            return 0
        with self._lock:
            return self._put_many(items)

    def _put_many(self, items: Sequence[tuple[str, bytes]]) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO queue (topic, data) VALUES (?, ?)", items)
            self._depth += len(items)
            overflow = self._depth - self.max_items
            if overflow > 0:
                db.execute("DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT ?)", (overflow,))
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value", (overflow,)
                )
                self._depth -= overflow
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._depth = int(db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])
            raise
        return max(0, overflow)

    def peek(self, limit: int) -> list[QueuedItem]:
        """The oldest `limit` rows, left in the queue."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, data FROM queue ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [QueuedItem(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def peek_after(self, after_id: int, limit: int) -> list[QueuedItem]:
        """The oldest `limit` rows with an id above `after_id` (not yet sent), left in the queue."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, data FROM queue WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit)).fetchall()
        return [QueuedItem(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def get(self, ids: Sequence[int]) -> list[QueuedItem]:
        """The rows with these ids that are still queued, in id order."""
        out: list[QueuedItem] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                rows = self._db.execute(f"SELECT id, topic, data FROM queue WHERE id IN ({','.join('?' * len(chunk))})"
                                        " ORDER BY id", chunk).fetchall()
                out += [QueuedItem(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]
        return sorted(out, key=lambda i: i.id)

    def delete(self, ids: Sequence[int]) -> None:
        """Forget acknowledged rows."""
        if not ids:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            removed = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                cur = db.execute(f"DELETE FROM queue WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                removed += cur.rowcount
            db.execute("COMMIT")
            self._depth -= removed
