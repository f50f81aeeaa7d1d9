"""Overlapping runs of the same playbooks and inventory never run at once.

The lock is an flock on a file beside the outcome store, keyed on what runs (the resolved
playbook files and inventory sources), so `urs run ./x.yml` and `urs run /abs/x.yml` exclude
each other and two files that only share a name do not. The kernel releases it when the
process ends, however it ends, so a crashed run never leaves a stale lock behind. The holder
writes its pid and its deadline into the file: a run it blocks says whether the holder is
past its deadline (hung).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from runner.errors import LockBusy
from runner.record.store import private_dir

POLL_S = 0.1


def lock_key(playbook_files: Iterable[str], inventory_sources: Iterable[str]) -> str:
    """What a run runs: its playbook files and inventory sources, resolved, in order."""
    files = sorted(_resolved(f) for f in playbook_files)
    return json.dumps({"playbooks": files, "inventory": [_resolved(s) for s in inventory_sources]})


def _resolved(source: str) -> str:
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


class RunLock:
    def __init__(self, folder: Path, key: str, label: str = "",
                 busy: str = "another run of {label} is in progress") -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        private_dir(folder)
        self.path = folder / f"{digest}.lock"
        self.key = key
        self.label = label or key
        self.busy = busy.format(label=self.label)  # what a blocked caller is told
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0, deadline_s: float | None = None) -> None:
        """Take the lock, waiting up to wait_s seconds; LockBusy names the holder. The holder
        promises to end within deadline_s (None: no promise)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        until = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= until:
                    holder = os.pread(fd, 512, 0).decode(errors="replace")
                    os.close(fd)
                    raise LockBusy(self._busy(holder)) from None
                time.sleep(POLL_S)
        now = time.time()
        me = {"pid": os.getpid(), "started": now,
              "deadline": now + deadline_s if deadline_s is not None else None}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd

    def _busy(self, text: str) -> str:
        try:
            holder = json.loads(text)
            pid, started, deadline = holder["pid"], holder["started"], holder.get("deadline")
        except (ValueError, KeyError, TypeError):
            return f"{self.busy} (pid {text.strip() or '?'}); this one was skipped"
        message = f"{self.busy} (pid {pid}, since {_when(started)}); this one was skipped"
        if deadline is not None and time.time() > deadline:
            message += f"; that run is past its deadline ({_when(deadline)}) and may be hung"
        return message

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
