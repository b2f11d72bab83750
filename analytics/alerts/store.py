"""SQLite persistence for alerts, their history, the delivery outbox and runtime maintenance windows.

WAL mode so the API's reads never wait behind the manager's writes, and so a crash
loses at most the transaction in flight. The delivery outbox lives in the same
database as the alert state and is written in the same transaction: a notification
is either recorded together with the state change that caused it, or not at all, so a
restart neither forgets a pending notification nor sends one twice for one change.

The store is synchronous on purpose: each call is a few small indexed statements on a
local file (well under a millisecond), cheaper than a thread hop per call.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from analytics.alerts.errors import AlertNotFound
from analytics.alerts.model import Action, Alert, AlertState, Delivery, HistoryEntry
from twin.events import Severity
from twin.private import private_file
from twin.readings import format_ts
from twin.sqlite import transaction
from twin.topics import AssetPath

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    key TEXT NOT NULL, message TEXT NOT NULL, state TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, count INTEGER NOT NULL,
    acked_by TEXT, acked_at TEXT, ack_comment TEXT, resolved_at TEXT, resolved_by TEXT,
    cleared_at TEXT, notified_at TEXT, escalation TEXT NOT NULL DEFAULT '{}',
    flaps INTEGER NOT NULL DEFAULT 0, silenced INTEGER NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '{}'
);
-- At most one open alert per condition: the dedup rule, enforced by the database too.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_key ON alerts(asset, key) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state);
CREATE INDEX IF NOT EXISTS alerts_key ON alerts(asset, key, resolved_at);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL REFERENCES alerts(id),
    ts TEXT NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL, state TEXT NOT NULL, comment TEXT
);
CREATE INDEX IF NOT EXISTS history_alert ON history(alert_id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL REFERENCES alerts(id),
    channel TEXT NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, next_attempt_at TEXT NOT NULL,
    last_error TEXT, sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT, assets TEXT NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL,
    reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_ALERT_COLUMNS = ("asset", "source", "kind", "severity", "key", "message", "state", "first_seen", "last_seen",
                  "count", "acked_by", "acked_at", "ack_comment", "resolved_at", "resolved_by", "cleared_at",
                  "notified_at", "escalation", "flaps", "silenced", "details")


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """A maintenance window added at run time (through the API)."""

    id: int
    assets: str
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime


def _ts(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value)


def _read_ts(text: str) -> datetime:
    """A timestamp this store wrote itself (format_ts), read back as is, not checked like wire input.

    Wire timestamps must lie in InfluxDB's range (twin.readings.parse_ts); a maintenance
    window may end later than that, and must still load.
    """
    return datetime.fromisoformat(text).astimezone(UTC)


def _dt(value: str | None) -> datetime | None:
    return None if value is None else _read_ts(value)


class AlertStore:
    """A context manager owning one SQLite connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the connection is used only from the event loop thread,
        # but uvicorn and the manager may be started from different threads in tests.
        # 0600: the routing table it keeps holds channel URLs, which may carry credentials.
        db = sqlite3.connect(private_file(self.path), isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash or
        # power loss can drop the last transactions (SQLite docs, "synchronous").
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        self._db = db
        return self

    def __exit__(self, *exc: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("AlertStore is not open; use it as a context manager")
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""
        with transaction(self.db) as db:
            yield db

    # -- alerts ----------------------------------------------------------------------------

    def _row_values(self, a: Alert) -> tuple[Any, ...]:
        return (str(a.asset), a.source, a.kind, a.severity.value, a.key, a.message, a.state.value,
                format_ts(a.first_seen), format_ts(a.last_seen), a.count, a.acked_by, _ts(a.acked_at),
                a.ack_comment, _ts(a.resolved_at), a.resolved_by, _ts(a.cleared_at), _ts(a.notified_at),
                json.dumps(a.escalation), a.flaps, int(a.silenced), json.dumps(a.details, default=str))

    def insert(self, a: Alert) -> int:
        """Insert a new alert and return its id (the alert's id field is ignored)."""
        cols = ", ".join(_ALERT_COLUMNS)
        marks = ", ".join("?" for _ in _ALERT_COLUMNS)
        cur = self.db.execute(f"INSERT INTO alerts ({cols}) VALUES ({marks})", self._row_values(a))
        return _new_id(cur)

    def update(self, a: Alert) -> None:
        """Write every field of an existing alert."""
        sets = ", ".join(f"{c} = ?" for c in _ALERT_COLUMNS)
        self.db.execute(f"UPDATE alerts SET {sets} WHERE id = ?", (*self._row_values(a), a.id))

    @staticmethod
    def _alert(row: sqlite3.Row) -> Alert:
        return Alert(
            id=row["id"], asset=AssetPath.parse(row["asset"]), source=row["source"], kind=row["kind"],
            severity=Severity(row["severity"]), key=row["key"], message=row["message"],
            state=AlertState(row["state"]), first_seen=_read_ts(row["first_seen"]),
            last_seen=_read_ts(row["last_seen"]), count=row["count"], acked_by=row["acked_by"],
            acked_at=_dt(row["acked_at"]), ack_comment=row["ack_comment"], resolved_at=_dt(row["resolved_at"]),
            resolved_by=row["resolved_by"], cleared_at=_dt(row["cleared_at"]), notified_at=_dt(row["notified_at"]),
            escalation=json.loads(row["escalation"]), flaps=row["flaps"], silenced=bool(row["silenced"]),
            details=json.loads(row["details"]),
        )

    def get(self, alert_id: int) -> Alert:
        """One alert; AlertNotFound if there is none with that id."""
        row = self.db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFound(f"no alert with id {alert_id}")
        return self._alert(row)

    def open_alerts(self) -> list[Alert]:
        """Every alert that is firing or acknowledged."""
        rows = self.db.execute("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id").fetchall()
        return [self._alert(r) for r in rows]

    def last_resolved(self, asset: str, key: str) -> Alert | None:
        """The most recently resolved alert of one condition (for flap detection)."""
        row = self.db.execute(
            "SELECT * FROM alerts WHERE asset = ? AND key = ? AND state = 'resolved' "
            "ORDER BY resolved_at DESC LIMIT 1", (asset, key)).fetchone()
        return None if row is None else self._alert(row)

    def query(self, *, states: list[str] | None = None, severities: list[str] | None = None,
              kinds: list[str] | None = None, sources: list[str] | None = None,
              since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[Alert]:
        """Alerts newest first, filtered (asset patterns are applied by the caller)."""
        where: list[str] = []
        args: list[Any] = []
        for column, values in (("state", states), ("severity", severities), ("kind", kinds), ("source", sources)):
            if values:
                where.append(f"{column} IN ({', '.join('?' for _ in values)})")
                args.extend(values)
        if since is not None:
            where.append("last_seen >= ?")
            args.append(format_ts(since))
        sql = "SELECT * FROM alerts" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        rows = self.db.execute(sql, (*args, limit, offset)).fetchall()
        return [self._alert(r) for r in rows]

    # -- history ---------------------------------------------------------------------------

    def add_history(self, entry: HistoryEntry) -> None:
        """Append one lifecycle entry."""
        self.db.execute("INSERT INTO history (alert_id, ts, action, actor, state, comment) VALUES (?, ?, ?, ?, ?, ?)",
                        (entry.alert_id, format_ts(entry.ts), entry.action.value, entry.actor, entry.state.value,
                         entry.comment))

    def history(self, alert_id: int) -> list[HistoryEntry]:
        """An alert's lifecycle, oldest first."""
        rows = self.db.execute("SELECT * FROM history WHERE alert_id = ? ORDER BY id", (alert_id,)).fetchall()
        return [HistoryEntry(r["alert_id"], _read_ts(r["ts"]), Action(r["action"]), r["actor"], AlertState(r["state"]),
                             r["comment"]) for r in rows]

    # -- outbox ----------------------------------------------------------------------------

    def enqueue(self, alert_id: int, channel: str, event: str, now: datetime) -> None:
        """Record a notification to send (inside the caller's transaction)."""
        self.db.execute("INSERT INTO outbox (alert_id, channel, event, created_at, next_attempt_at) "
                        "VALUES (?, ?, ?, ?, ?)", (alert_id, channel, event, format_ts(now), format_ts(now)))

    @staticmethod
    def _delivery(r: sqlite3.Row) -> Delivery:
        return Delivery(r["id"], r["alert_id"], r["channel"], r["event"], r["status"], r["attempts"],
                        _read_ts(r["created_at"]), _read_ts(r["next_attempt_at"]), r["last_error"], _dt(r["sent_at"]))

    def due_deliveries(self, now: datetime, limit: int = 50) -> list[Delivery]:
        """Pending notifications whose next attempt is due."""
        rows = self.db.execute("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                               "ORDER BY id LIMIT ?", (format_ts(now), limit)).fetchall()
        return [self._delivery(r) for r in rows]

    def deliveries(self, alert_id: int) -> list[Delivery]:
        """The delivery log of one alert."""
        rows = self.db.execute("SELECT * FROM outbox WHERE alert_id = ? ORDER BY id", (alert_id,)).fetchall()
        return [self._delivery(r) for r in rows]

    def notified_channels(self, alert_id: int) -> list[str]:
        """Channels that were (or are being) told about an alert firing or escalating."""
        rows = self.db.execute("SELECT DISTINCT channel FROM outbox WHERE alert_id = ? AND event != 'resolved' "
                               "ORDER BY channel", (alert_id,)).fetchall()
        return [r["channel"] for r in rows]

    def delivery_done(self, delivery_id: int, now: datetime) -> None:
        """Mark a delivery sent."""
        self.db.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL "
                        "WHERE id = ?", (format_ts(now), delivery_id))

    def delivery_failed(self, delivery_id: int, error: str, next_attempt_at: datetime | None) -> None:
        """Record a failed attempt; `next_attempt_at` None means give up."""
        if next_attempt_at is None:
            self.db.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
                            (error, delivery_id))
        else:
            self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                            "WHERE id = ?", (error, format_ts(next_attempt_at), delivery_id))

    # -- maintenance windows and settings --------------------------------------------------

    def add_window(self, assets: str, start: datetime, end: datetime, reason: str, created_by: str,
                   now: datetime) -> StoredWindow:
        """Store a maintenance window."""
        cur = self.db.execute('INSERT INTO maintenance (assets, start, "end", reason, created_by, created_at) '
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              (assets, format_ts(start), format_ts(end), reason, created_by, format_ts(now)))
        return StoredWindow(_new_id(cur), assets, start, end, reason, created_by, now)

    def windows(self) -> list[StoredWindow]:
        """Every stored maintenance window."""
        rows = self.db.execute("SELECT * FROM maintenance ORDER BY id").fetchall()
        return [StoredWindow(r["id"], r["assets"], _read_ts(r["start"]), _read_ts(r["end"]), r["reason"],
                             r["created_by"], _read_ts(r["created_at"])) for r in rows]

    def delete_window(self, window_id: int) -> bool:
        """Delete a window; False if there was none with that id."""
        return self.db.execute("DELETE FROM maintenance WHERE id = ?", (window_id,)).rowcount > 0

    def get_setting(self, name: str) -> str | None:
        """A stored setting (e.g. a routing override made through the API)."""
        row = self.db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row["value"])

    def set_setting(self, name: str, value: str | None) -> None:
        """Store or (with None) delete a setting."""
        if value is None:
            self.db.execute("DELETE FROM settings WHERE name = ?", (name,))
        else:
            self.db.execute("INSERT INTO settings (name, value) VALUES (?, ?) "
                            "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))


def _new_id(cur: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT just made (sqlite3 sets it after every successful INSERT)."""
    if cur.lastrowid is None:
        raise RuntimeError("sqlite3 returned no rowid for an INSERT")
    return cur.lastrowid
