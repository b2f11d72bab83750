"""Files that may hold secrets (alert channel URLs, refused payloads, keys) are readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: Path) -> Path:
    """Create `path` (if missing) with mode 0600 and make sure it has that mode; returns the path.

    Call before SQLite opens the file: SQLite gives its -wal and -shm files the database
    file's permissions, so they are private too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path
