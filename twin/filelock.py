"""An exclusive lock on a side file: one process at a time may own a queue or a checkpoint.

Two edge agents on one queue would publish and delete each other's rows; two analytics
instances with the same name would overwrite each other's checkpoints. `ExclusiveLock`
holds `flock(LOCK_EX | LOCK_NB)` on a `.lock` file next to what it guards for as long as
it is open; the kernel releases it when the process dies, so a killed process never
blocks its own restart. The lock file holds the owner's pid, for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from twin.errors import TwinError


class InUse(TwinError):
    """Another process holds the lock."""


class ExclusiveLock:
    """A context manager (or open/close) owning the lock file `path`; InUse when another process has it."""

    def __init__(self, path: Path, *, what: str, hint: str = "") -> None:
        self.path = path
        self.what = what
        self.hint = hint
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock now; InUse names the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise InUse(f"{self.what} is in use by {holder}" + (f"; {self.hint}" if self.hint else "")) from None
        file.truncate(0)
        file.write(f"pid {os.getpid()}")
        file.flush()
        self._file = file

    def release(self) -> None:
        """Give the lock back (closing the file releases it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ExclusiveLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
