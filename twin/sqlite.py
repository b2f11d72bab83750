"""SQLite helpers shared by every local store (edge queue, dead letters, alerts, SPC limits, checkpoints)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error (the connection is in autocommit mode).

    IMMEDIATE takes the write lock at the start, so two processes on one file wait for each
    other (busy timeout) instead of failing half-way with SQLITE_BUSY on their first write.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
