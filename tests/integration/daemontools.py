"""Daemons in temporary projects, for the daemon's tests: a project folder with playbooks and
urs.yml, `urs daemon` started as a real subprocess (its output in files), the store read
while it runs."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import wait_for, write


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store.db"
        (root / "playbooks").mkdir()
        self.procs: list[subprocess.Popen[str]] = []

    def book(self, name: str, text: str) -> Path:
        return write(self.root / "playbooks", text, f"{name}.yml")

    def config(self, jobs: str, extra: str = "") -> None:
        write(self.root, f"store: {self.store}\n{extra}jobs:\n{jobs}", "urs.yml")

    def start(self, *args: str) -> subprocess.Popen[str]:
        """A daemon whose output goes to a file: a pipe read only at the end fills up (64 KiB
        of log lines at five ticks a second) and blocks the daemon's logging mid-test."""
        number = len(self.procs)
        with (self.root / f"daemon{number}.out").open("w") as out, \
                (self.root / f"daemon{number}.err").open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "runner", "daemon", *args],
                                    cwd=self.root, stdout=out, stderr=err, text=True)
        self.procs.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[str], stream: str = "out") -> str:
        """What the daemon printed on its standard output (its log), or "err"."""
        return (self.root / f"daemon{self.procs.index(proc)}.{stream}").read_text()

    def stop(self, proc: subprocess.Popen[str]) -> str:
        """SIGTERM, wait for a clean exit (0), and what it printed."""
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, self.output(proc, "err")
        return self.output(proc)

    def rows(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        if not self.store.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.store)) as db:
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError:  # not made yet
                return []

    def wait(self, predicate: Callable[[], object], deadline_s: float = 60.0) -> None:
        """Poll until predicate holds; else fail with what the daemons printed."""
        if wait_for(predicate, deadline_s):
            return
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        outputs = [(self.output(p), self.output(p, "err")) for p in self.procs]
        runs = self.rows("SELECT job, status, reason FROM runs")
        raise AssertionError(f"runs: {runs}\ndaemon output: {outputs}")

    def runs(self, job: str, status: str = "ok") -> int:
        return len(self.rows("SELECT id FROM runs WHERE job = ? AND status = ?", job, status))


def command_channel(received: Path) -> str:
    """A command channel appending each message to `received` as one JSON line."""
    return f"command:cat >> {received}; echo >> {received}"


def messages(received: Path) -> list[dict[str, Any]]:
    """The messages a command_channel received, complete lines only (one may be half written)."""
    if not received.exists():
        return []
    return [json.loads(line) for line in received.read_text().split("\n")[:-1]]
