"""Overlapping runs of the same playbooks and inventory never run at once.

The lock is an flock on a file beside the outcome store; the kernel releases it when the
process ends, however it ends, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from runner.errors import LockBusy
from runner.record.store import private_dir

POLL_S = 0.1


class RunLock:
    def __init__(self, folder: Path, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        private_dir(folder)
        self.path = folder / f"{digest}.lock"
        self.key = key
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to wait_s seconds; LockBusy names the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise LockBusy(f"another run of {self.key} is in progress (pid {holder})"
                                   "; this one was skipped") from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
