"""The outcome store's SQLite file: private to the user (0600 in a 0700 folder), WAL mode
with a busy timeout so concurrent cron runs never lose rows, foreign keys on (retention deletes
a run's outcomes with it)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from runner.record.store import private_dir


def connect(path: Path) -> sqlite3.Connection:
    _private_file(path)
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout = 30000")
    _wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _wal(db: sqlite3.Connection, tries: int = 100) -> None:
    """Switch to WAL mode; a new file switched by several processes at once answers "locked"
    without waiting for the busy timeout, so try again for a few seconds."""
    for attempt in range(tries):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


def _private_file(path: Path) -> None:
    """Create the folder 0700 and the file 0600 before SQLite opens it (WAL files follow).

    An existing file is never opened here: closing any descriptor of a file drops every POSIX
    lock this process holds on it, the SQLite connections' of other threads included; another
    process closing its last connection would then think itself the last one, checkpoint and
    delete the WAL file that those connections still write to, and their writes would be lost.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
