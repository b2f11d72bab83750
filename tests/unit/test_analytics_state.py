"""The checkpoint file and the snapshot envelope of streaming analytics (analytics/state.py)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from analytics.state import (
    SnapshotError,
    StateStore,
    StateStoreError,
    decode_snapshot,
    encode_snapshot,
    pack_floats,
    pack_pairs,
    state_path,
    unpack_floats,
    unpack_pairs,
)


def test_snapshots_are_kept_per_analytic_and_instance_and_replaced(tmp_path: Path) -> None:
    path = state_path(tmp_path / "state")
    with StateStore(path) as store:
        assert store.load("spc", "1") is None
        store.save("spc", "1", b"a")
        store.save("spc", "2", b"b")
        store.save("energy", "1", b"c")
        store.save("spc", "1", b"a2")
    with StateStore(path) as store:  # another process, later
        assert (store.load("spc", "1"), store.load("spc", "2"), store.load("energy", "1")) == (b"a2", b"b", b"c")
        assert [(a, i, n) for a, i, _, n in store.saved()] == [("energy", "1", 1), ("spc", "1", 2), ("spc", "2", 1)]
        assert store.forget("spc", "2") and not store.forget("spc", "2")
        assert store.load("spc", "2") is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_an_unusable_state_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateStoreError, match="cannot open the analytics state file"):
        StateStore(blocker / "analytics-state.sqlite")


def test_packed_floats_round_trip_exactly_and_refuse_garbage() -> None:
    values = [0.1, -0.0, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    assert list(unpack_floats(pack_floats(values))) == values
    assert unpack_pairs(pack_pairs([(1.0, 2.0), (3.0, 4.5)])) == [(1.0, 2.0), (3.0, 4.5)]
    assert math.isnan(unpack_floats(pack_floats([math.nan]))[0])
    for bad in ("not base64!", 42, pack_floats([1.0])[:-2] + "==="):
        with pytest.raises(SnapshotError):
            unpack_floats(bad)
    with pytest.raises(SnapshotError, match="odd"):
        unpack_pairs(pack_floats([1.0, 2.0, 3.0]))


def test_a_snapshot_round_trips_every_float_exactly() -> None:
    state = {"x": [0.1 + 0.2, 1e-310, -0.0, math.inf, -math.inf, 2**53 + 1.0], "nan": math.nan, "text": "漢字"}
    back = decode_snapshot(encode_snapshot("spc", 3, state), "spc", 3)
    assert back["x"] == state["x"] and math.copysign(1, back["x"][2]) == -1 and math.isnan(back["nan"])
    assert back["text"] == "漢字"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "unreadable"),
    (b"\xff\xfe garbage", "unreadable"),
    (b"{not json", "unreadable"),
    (b"[1, 2]", "not an analytics snapshot"),
    (encode_snapshot("energy", 1, {}), "a snapshot of 'energy'"),
    (encode_snapshot("spc", 2, {}), "format version 2"),
    (b'{"format": "factory-twin/analytics-snapshot", "analytic": "spc", "version": 1}', "without"),
    (b"[" * 100_000 + b"]" * 100_000, "unreadable"),
])
def test_a_snapshot_that_does_not_fit_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        decode_snapshot(data, "spc", 1)
