"""The edge agent's disk queue: FIFO, survives reopening, bounded with counted drops."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.queue import DiskQueue, QueueInUse


def test_fifo_and_delete_on_ack(tmp_path: Path) -> None:
    with DiskQueue(tmp_path / "q.sqlite") as q:
        q.put_many([("t/a", b"1"), ("t/b", b"2"), ("t/a", b"3")])
        items = q.peek(2)
        assert [(i.topic, i.data) for i in items] == [("t/a", b"1"), ("t/b", b"2")]
        q.delete([i.id for i in items])
        assert q.depth == 1
        assert [i.data for i in q.peek(10)] == [b"3"]


def test_unacknowledged_rows_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    with DiskQueue(path) as q:
        q.put_many([("t", str(i).encode()) for i in range(100)])
        q.delete([i.id for i in q.peek(40)])
    with DiskQueue(path) as q:
        assert q.depth == 60
        assert q.peek(1)[0].data == b"40"


def test_full_queue_drops_oldest_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    with DiskQueue(path, max_items=10) as q:
        assert q.put_many([("t", str(i).encode()) for i in range(8)]) == 0
        assert q.put_many([("t", str(i).encode()) for i in range(8, 13)]) == 3
        assert q.depth == 10
        assert [i.data for i in q.peek(2)] == [b"3", b"4"]
        assert q.dropped == 3
    with DiskQueue(path, max_items=10) as q:
        assert q.dropped == 3  # the count is persistent, for the operator's report


def test_a_second_agent_on_the_same_queue_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge-1.queue.sqlite"
    with DiskQueue(path) as first:
        first.put_many([("t", b"1")])
        with pytest.raises(QueueInUse, match=r"in use by pid \d+; give each edge agent its own --agent-id"):
            DiskQueue(path)
        assert first.depth == 1  # the refused second agent touched nothing
    # Released on close (and by the kernel when a process dies): the next agent opens it.
    with DiskQueue(path) as again:
        assert again.depth == 1


def test_peek_after_and_get_serve_the_publisher_window(tmp_path: Path) -> None:
    with DiskQueue(tmp_path / "q.sqlite") as q:
        q.put_many([("t", str(i).encode()) for i in range(10)])
        first = q.peek_after(0, 4)
        rest = q.peek_after(first[-1].id, 100)
        assert [i.data for i in first + rest] == [str(i).encode() for i in range(10)]
        q.delete([first[0].id])
        assert [i.id for i in q.get([first[1].id, first[0].id, rest[0].id])] == [first[1].id, rest[0].id]
