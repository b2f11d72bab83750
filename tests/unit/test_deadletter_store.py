"""The dead-letter store and `DeadLetters.send`: exact payloads, prefix filter, bounds, reopen, WAL sharing."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.localservers import free_port
from twin.deadletter import DeadLetters, DeadLetterStore, store_path
from twin.mqtt import MqttClient
from twin.settings import MqttEndpoint

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
INVALID_UTF8 = b"\xff\xfe\x00\xc3(\xed\xa0\x80 not text"
ONE_MIB = bytes(range(256)) * 4096


@pytest.fixture(params=["memory", "file"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """Both forms of the store: in memory (None) and in a file."""
    return None if request.param == "memory" else tmp_path / "dl.sqlite"


@pytest.fixture
def store(where: Path | None) -> Iterator[DeadLetterStore]:
    """A store with the default bounds, in memory and in a file."""
    with DeadLetterStore(where) as s:
        yield s


def _add(store: DeadLetterStore, payload: bytes, *, service: str = "ingest", topic: str = "twin/v1/t",
         reason: str = "r", at: datetime = T0) -> int:
    return store.add(service=service, topic=topic, payload=payload, reason=reason, received=at)


def test_a_dead_letter_comes_back_byte_for_byte_and_is_marked_replayed(store: DeadLetterStore) -> None:
    a = _add(store, INVALID_UTF8, topic="twin/v1/f1/a/l/m/telemetry", reason="not JSON at byte 0", at=T0)
    b = _add(store, ONE_MIB, service="alerts", topic="twin/v1/f1/a/l/m/alerts", reason="too big",
             at=T0 + timedelta(seconds=1))
    c = _add(store, b"", reason="empty", at=T0 + timedelta(seconds=2))
    assert a < b < c

    letters = store.entries()
    assert [(d.id, d.service, d.topic, d.payload, d.reason, d.received, d.replayed) for d in letters] == [
        (a, "ingest", "twin/v1/f1/a/l/m/telemetry", INVALID_UTF8, "not JSON at byte 0", T0, None),
        (b, "alerts", "twin/v1/f1/a/l/m/alerts", ONE_MIB, "too big", T0 + timedelta(seconds=1), None),
        (c, "ingest", "twin/v1/t", b"", "empty", T0 + timedelta(seconds=2), None),
    ]
    assert store.get([c, a]) == [letters[0], letters[2]]
    assert store.get([b])[0].payload == ONE_MIB
    assert store.get([9999]) == []
    assert store.count() == 3

    replayed_at = T0 + timedelta(hours=1)
    store.mark_replayed([a, b], replayed_at)
    assert [d.id for d in store.entries()] == [c]
    assert store.count() == 1
    assert store.count(include_replayed=True) == 3
    assert [(d.id, d.replayed) for d in store.entries(include_replayed=True)] == [
        (a, replayed_at), (b, replayed_at), (c, None)]
    # get() returns replayed ones too, still with their exact bytes.
    assert [(d.payload, d.replayed) for d in store.get([a, b])] == [(INVALID_UTF8, replayed_at),
                                                                     (ONE_MIB, replayed_at)]


def test_preview_of_invalid_utf8_is_text_and_cut(store: DeadLetterStore) -> None:
    _add(store, INVALID_UTF8)
    _add(store, b"x" * 500)
    bad, long = store.entries()
    assert bad.preview() == INVALID_UTF8.decode("utf-8", errors="replace")
    assert long.preview(10) == "x" * 10 + "…"


def test_entries_page_by_id_and_limit(store: DeadLetterStore) -> None:
    ids = [_add(store, str(i).encode()) for i in range(10)]
    first = store.entries(limit=4)
    assert [d.payload for d in first] == [b"0", b"1", b"2", b"3"]
    rest = store.entries(after_id=first[-1].id, limit=100)
    assert [d.id for d in rest] == ids[4:]


def test_get_returns_every_requested_id_beyond_one_sql_chunk(store: DeadLetterStore) -> None:
    ids = [_add(store, i.to_bytes(2, "big")) for i in range(1200)]
    got = store.get(ids[::-1])  # more ids than one IN (...) chunk of 500, in any order
    assert [d.id for d in got] == sorted(ids)
    assert [d.payload for d in got] == [i.to_bytes(2, "big") for i in range(1200)]
    assert [d.id for d in store.get([ids[0], *ids[600:603], ids[0], ids[601]])] == [ids[0], *ids[600:603]]


def test_service_filter_matches_the_service_and_its_dotted_children_only(store: DeadLetterStore) -> None:
    for service in ("analytics", "analytics.spc", "analytics.pdm", "analyticsx", "analyticsx.spc", "ingest",
                    "alerts", "edge.e1", "edge.e2"):
        _add(store, service.encode(), service=service)

    def payloads(service: str) -> list[bytes]:
        return [d.payload for d in store.entries(service=service)]

    assert payloads("analytics") == [b"analytics", b"analytics.spc", b"analytics.pdm"]
    assert store.count(service="analytics") == 3
    assert payloads("analytics.spc") == [b"analytics.spc"]
    assert payloads("ingest") == [b"ingest"]
    assert payloads("edge") == [b"edge.e1", b"edge.e2"]
    assert payloads("edge.e1") == [b"edge.e1"]
    assert payloads("analytics.s") == []
    assert payloads("inge") == []
    assert store.count(service="edge") == 2


def test_service_filter_is_a_literal_prefix_not_a_like_pattern(store: DeadLetterStore) -> None:
    """`_`, `%` and letter case in a --service value are taken literally (they are SQL LIKE wildcards)."""
    for service in ("edge.line_1", "edge.lineX1.cell", "ingest", "analytics.spc"):
        _add(store, service.encode(), service=service)
    assert [d.payload for d in store.entries(service="edge.line_1")] == [b"edge.line_1"]
    assert store.entries(service="%") == []
    assert store.count(service="ANALYTICS") == 0


def test_row_bound_drops_the_oldest_and_counts_them(where: Path | None) -> None:
    with DeadLetterStore(where, max_rows=3) as small:
        for i in range(5):
            _add(small, str(i).encode())
        assert [d.payload for d in small.entries()] == [b"2", b"3", b"4"]
        assert small.count() == 3
        assert small.dropped == 2
        _add(small, b"5")
        assert [d.payload for d in small.entries()] == [b"3", b"4", b"5"]
        assert small.dropped == 3


def test_byte_bound_drops_the_oldest_and_counts_them(where: Path | None) -> None:
    with DeadLetterStore(where, max_bytes=1000) as store:
        for i in range(3):
            _add(store, bytes([i]) * 400)  # the third makes 1200 bytes: the first goes
        assert [d.payload[0] for d in store.entries()] == [1, 2]
        assert store.dropped == 1
        _add(store, b"z" * 900)  # 400 + 400 + 900: both older ones go
        assert [d.payload for d in store.entries()] == [b"z" * 900]
        assert store.dropped == 3
        assert store.count() == 1


def test_a_single_letter_over_the_byte_bound_is_kept_whole(tmp_path: Path) -> None:
    with DeadLetterStore(tmp_path / "dl.sqlite", max_bytes=1000) as store:
        _add(store, b"a" * 10)
        _add(store, ONE_MIB)
        assert [d.payload for d in store.entries()] == [ONE_MIB]
        assert store.dropped == 1


def test_letters_and_the_drop_count_survive_reopening(tmp_path: Path) -> None:
    path = store_path(tmp_path / "state")
    assert path == tmp_path / "state" / "deadletters.sqlite"
    with DeadLetterStore(path, max_rows=2) as store:
        first = _add(store, INVALID_UTF8, reason="a")
        _add(store, ONE_MIB, reason="b")
        _add(store, b"third", reason="c")
        store.mark_replayed([first + 2], T0)
    assert path.exists()  # the folder was created
    with DeadLetterStore(path, max_rows=2) as store:
        assert [(d.payload, d.reason, d.replayed) for d in store.entries(include_replayed=True)] == [
            (ONE_MIB, "b", None), (b"third", "c", T0)]
        assert store.count() == 1
        assert store.dropped == 1
        # Ids continue after the highest ever used (AUTOINCREMENT), so a dropped id never comes back.
        assert _add(store, b"fourth") == first + 3


def test_two_stores_on_one_file_from_two_threads_interleave_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    rounds, per_round = 30, 10
    errors: list[BaseException] = []
    # Both threads start each round together, so their writes contend inside a round and
    # are interleaved across rounds, whatever the scheduler does.
    step = threading.Barrier(2)
    stores = [DeadLetterStore(path), DeadLetterStore(path)]

    def work(store: DeadLetterStore, service: str) -> None:
        try:
            for r in range(rounds):
                step.wait(10)
                for i in range(r * per_round, (r + 1) * per_round):
                    _add(store, f"{service}-{i}".encode(), service=service)
                store.count()
                store.entries(service=service, limit=5)
        except BaseException as exc:
            errors.append(exc)
            step.abort()

    threads = [threading.Thread(target=work, args=(s, name))
               for s, name in zip(stores, ("ingest", "alerts"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == []
    assert not any(t.is_alive() for t in threads)
    total = rounds * per_round
    with DeadLetterStore(path) as store:
        letters = store.entries(limit=10_000)
        assert len(letters) == 2 * total
        assert len({d.id for d in letters}) == 2 * total
        for service in ("ingest", "alerts"):
            assert [d.payload for d in store.entries(service=service, limit=10_000)] == [
                f"{service}-{i}".encode() for i in range(total)]
        services = [d.service for d in letters]
        switches = sum(1 for x, y in itertools.pairwise(services) if x != y)
        assert switches >= rounds - 1
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_send_without_a_client_stores_and_counts() -> None:
    with DeadLetterStore(None) as store:
        dead = DeadLetters(service="ingest", store=store, client=None, topic="twin/v1/_sys/deadletter/ingest")
        before = datetime.now(UTC)
        await dead.send("twin/v1/f1/a/l/m/telemetry", INVALID_UTF8, "not JSON")
        after = datetime.now(UTC)
        [letter] = store.entries()
        assert (letter.service, letter.topic, letter.payload, letter.reason) == (
            "ingest", "twin/v1/f1/a/l/m/telemetry", INVALID_UTF8, "not JSON")
        assert before <= letter.received <= after
        assert dead.stats.counters["deadletters"] == 1
        assert dead.stats.counters["deadletter_publish_failures"] == 0


async def test_send_to_an_unreachable_broker_still_stores_and_returns_soon() -> None:
    closed = MqttEndpoint("127.0.0.1", free_port(), False)  # nothing listens there
    with DeadLetterStore(None) as store:
        async with MqttClient(endpoint=closed, client_id="deadletter-unreachable") as client:
            dead = DeadLetters(service="alerts", store=store, client=client, topic="twin/v1/_sys/deadletter/alerts")
            started = time.monotonic()
            await dead.send("twin/v1/f1/a/l/m/alerts", ONE_MIB, "too big")
            await dead.send("twin/v1/f1/a/l/m/alerts", b"{", "not JSON")
            elapsed = time.monotonic() - started
        assert elapsed < 10  # two announcements of at most ANNOUNCE_TIMEOUT_S each, not a hang
        assert [(d.payload, d.reason) for d in store.entries()] == [(ONE_MIB, "too big"), (b"{", "not JSON")]
        assert dead.stats.counters["deadletters"] == 2
        assert dead.stats.counters["deadletter_publish_failures"] == 2


async def test_send_with_a_broken_store_counts_the_failure_and_does_not_raise(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path / "dl.sqlite")
    store.close()  # every call now raises sqlite3.ProgrammingError
    dead = DeadLetters(service="ingest", store=store, client=None, topic="twin/v1/_sys/deadletter/ingest")
    await dead.send("twin/v1/t", b"x", "r")
    assert dead.stats.counters["deadletters"] == 1
    assert dead.stats.counters["deadletter_store_failures"] == 1



def test_the_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deadletters.sqlite"
    with DeadLetterStore(path) as store:
        store.add(service="ingest", topic="t", payload=b"x", reason="r", received=datetime.now(UTC))
    assert path.stat().st_mode & 0o777 == 0o600
