"""Dead letters: input a service cannot use is kept, announced, listable and replayable.

Nothing is dropped silently (DESIGN.md §6), and nothing depends on a subscriber being
there: every dead letter is first stored in a bounded SQLite file (the `DeadLetterStore`,
`$TWIN_STATE_DIR/deadletters.sqlite` by default) with its topic, payload, reason, the
service that refused it and when; then announced on `twin/v1/_sys/deadletter/{service}`.
`twin deadletters list` shows them; `twin deadletters replay` publishes them again on
their original topic once the cause is fixed (a signal added to the plant file, say).

The store is bounded (rows and payload bytes); when full it drops the oldest and counts
what it dropped, like the edge queue. SQLite in WAL mode lets the services of one host
share the file. Its calls are blocking, so services call them through `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import TwinError
from twin.mqtt import MqttClient, MqttError
from twin.private import private_file
from twin.sqlite import transaction
from twin.stats import Stats

log = logging.getLogger(__name__)

MAX_ROWS = 100_000
MAX_BYTES = 256 * 1024 * 1024
# What the announcement on the dead-letter topic carries of the payload: enough to see
# what it was; the store keeps all of it.
PREVIEW_BYTES = 4096
ANNOUNCE_TIMEOUT_S = 2.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deadletters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    received TEXT NOT NULL,
    replayed TEXT,
    digest TEXT NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deadletters_service ON deadletters (service, id);
CREATE INDEX IF NOT EXISTS deadletters_digest ON deadletters (service, digest);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def store_path(state_dir: Path) -> Path:
    """Where the services of this host keep their dead letters."""
    return Path(state_dir) / "deadletters.sqlite"


# A service, or one of its dotted children ("analytics" matches "analytics.spc"), compared
# literally: LIKE would treat "_" and "%" in a name as wildcards and ignore case.
_SERVICE_IS = " AND (service = ? OR substr(service, 1, length(?)) = ?)"


_COLUMNS = "id, service, topic, payload, reason, received, replayed, repeats"


def _letter(r: tuple[Any, ...]) -> StoredDeadLetter:
    return StoredDeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], datetime.fromisoformat(r[5]),
                            datetime.fromisoformat(r[6]) if r[6] else None, int(r[7]))


class DeadLetterError(TwinError):
    """The dead-letter store cannot be opened or read."""


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """One kept dead letter."""

    id: int
    service: str
    topic: str
    payload: bytes
    reason: str
    received: datetime
    replayed: datetime | None
    repeats: int = 0  # the same message refused again while this one waited (see DeadLetterStore.add)

    def preview(self, limit: int = 120) -> str:
        """The payload as text, cut at `limit` characters."""
        text = self.payload.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "…"


class DeadLetterStore:
    """A bounded SQLite table of dead letters; `path=None` keeps them in memory (tests, one-off tools)."""

    def __init__(self, path: Path | None, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        try:
            if path is not None:
                private_file(path)  # refused payloads may hold anything a device sent
            self._db = sqlite3.connect(":memory:" if path is None else path, timeout=10,
                                       check_same_thread=False, isolation_level=None)
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL survives a killed process (not a power cut) without an fsync per letter.
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DeadLetterError(f"cannot open the dead-letter store {path}: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> DeadLetterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._db) as db:
            yield db

    def add(self, *, service: str, topic: str, payload: bytes, reason: str, received: datetime) -> int:
        """Keep one dead letter; drops the oldest beyond the bounds. Returns its id.

        The same message refused again by the same service while an earlier copy waits
        unreplayed — redelivered because the service restarted before it acknowledged the
        batch (say, during a database outage) — is kept once, its `repeats` counted.
        """
        digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
        with self._tx() as db:
            same = db.execute("SELECT id FROM deadletters WHERE service = ? AND digest = ? AND replayed IS NULL "
                              "LIMIT 1", (service, digest)).fetchone()
            if same is not None:
                db.execute("UPDATE deadletters SET repeats = repeats + 1 WHERE id = ?", (same[0],))
                return int(same[0])
            cur = db.execute("INSERT INTO deadletters (service, topic, payload, reason, received, digest) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (service, topic, payload, reason, received.isoformat(), digest))
            row_id = int(cur.lastrowid or 0)
            rows, size = db.execute("SELECT count(*), coalesce(sum(length(payload)), 0) FROM deadletters").fetchone()
            dropped = 0
            while (rows > self.max_rows or size > self.max_bytes) and rows > 1:
                oldest, length = db.execute(
                    "SELECT id, length(payload) FROM deadletters ORDER BY id LIMIT 1").fetchone()
                db.execute("DELETE FROM deadletters WHERE id = ?", (oldest,))
                rows, size, dropped = rows - 1, size - length, dropped + 1
            if dropped:
                db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                           "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (dropped,))
        return row_id

    @property
    def dropped(self) -> int:
        """How many dead letters were dropped to keep the store within its bounds."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def entries(self, *, service: str | None = None, after_id: int = 0, limit: int = 100,
             include_replayed: bool = False) -> list[StoredDeadLetter]:
        """Dead letters oldest first, optionally of one service (prefix match on 'analytics' etc.)."""
        sql = f"SELECT {_COLUMNS} FROM deadletters WHERE id > ?"
        args: list[object] = [after_id]
        if service is not None:
            sql += _SERVICE_IS
            args += [service, f"{service}.", f"{service}."]
        if not include_replayed:
            sql += " AND replayed IS NULL"
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_letter(r) for r in rows]

    def get(self, ids: Sequence[int]) -> list[StoredDeadLetter]:
        """The dead letters with these ids (replayed or not), in id order."""
        found = []
        ids = sorted(set(ids))  # chunks in id order, so the whole result is in id order (and each id once)
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM deadletters "
                    f"WHERE id IN ({marks}) ORDER BY id", list(chunk)).fetchall()
            found += [_letter(r) for r in rows]
        return found

    def mark_replayed(self, ids: Sequence[int], at: datetime) -> None:
        """Record that these were published again."""
        with self._tx() as db:
            db.executemany("UPDATE deadletters SET replayed = ? WHERE id = ?", [(at.isoformat(), i) for i in ids])

    def count(self, *, service: str | None = None, include_replayed: bool = False, messages: bool = False) -> int:
        """How many are kept (of one service; not yet replayed unless asked); `messages`: with their repeats."""
        sql = f"SELECT {'coalesce(sum(1 + repeats), 0)' if messages else 'count(*)'} FROM deadletters WHERE 1=1"
        args: list[object] = []
        if service is not None:
            sql += _SERVICE_IS
            args += [service, f"{service}.", f"{service}."]
        if not include_replayed:
            sql += " AND replayed IS NULL"
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])


class DeadLetters:
    """How a service refuses input: keep it in the store, then announce it on its dead-letter topic.

    Announcing is best effort (QoS 0, short timeout): a broker that is away or slow is
    counted and logged, never fatal, and never holds up the stream — the store has it.
    """

    def __init__(self, *, service: str, store: DeadLetterStore, client: MqttClient | None, topic: str,
                 stats: Stats | None = None) -> None:
        self.service = service
        self.store = store
        self.topic = topic
        self._client = client
        self.stats = stats or Stats(f"deadletters.{service}")

    async def send(self, topic: str, payload: bytes, reason: str) -> None:
        """Keep and announce one dead letter (`topic` and `payload` as received)."""
        received = datetime.now(UTC)
        self.stats.count("deadletters")
        log.warning("%s: dead letter from %s: %s", self.service, topic, reason[:500])
        try:
            row_id = await asyncio.to_thread(self.store.add, service=self.service, topic=topic, payload=payload,
                                             reason=reason, received=received)
        except sqlite3.Error as exc:
            # The disk is full or the file is broken: the message is still announced and counted.
            self.stats.count("deadletter_store_failures")
            log.error("%s: could not keep a dead letter: %s", self.service, exc)
            row_id = 0
        if self._client is None:
            return
        body = {"id": row_id, "service": self.service, "topic": topic, "reason": reason,
                "payload": payload[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
                "truncated": len(payload) > PREVIEW_BYTES, "received": received.isoformat()}
        try:
            await self._client.publish(self.topic, json.dumps(body).encode(), qos=0, timeout_s=ANNOUNCE_TIMEOUT_S)
        except MqttError as exc:
            self.stats.count("deadletter_publish_failures")
            log.warning("%s: dead letter kept (id %d) but not announced: %s", self.service, row_id, exc)
