"""One owner at a time: a second holder of a lock is refused by name, a dead holder blocks nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from twin.filelock import ExclusiveLock, InUse


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with ExclusiveLock(path, what="the thing", hint="use another one"):
        with pytest.raises(InUse, match=rf"the thing is in use by pid {os.getpid()}; use another one"):
            ExclusiveLock(path, what="the thing", hint="use another one").acquire()
    with ExclusiveLock(path, what="the thing"):  # released on exit
        pass


def test_a_killed_holder_does_not_block_its_restart(tmp_path: Path) -> None:
    path = tmp_path / "y.lock"
    code = ("import sys, os, signal; from pathlib import Path; from twin.filelock import ExclusiveLock; "
            f"ExclusiveLock(Path({str(path)!r}), what='t').acquire(); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert proc.returncode == -9
    with ExclusiveLock(path, what="t"):
        pass
