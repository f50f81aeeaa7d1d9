"""`SQLiteStore`: the outcome store in one SQLite file, private to the user, WAL mode with a
busy timeout so concurrent cron runs never lose rows; its schema is versioned
(runner.record.migrations)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from runner.errors import StoreError
from runner.events import Event, HostFinished, RunFinished, RunStarted, StepFinished
from runner.model import PastAction, PastOutcome, Status
from runner.notify import Policy
from runner.record import past
from runner.record.incidents import EscalationRecords, record_outcome
from runner.record.migrations import migrate
from runner.record.outbox import OutboxRecords
from runner.record.sqlitefile import connect
from runner.record.store import RunFilter, retention_days

TAIL = 2000

# the latest run of each job: the jobs found one index seek at a time (from one job to the
# next), not by grouping every run ever recorded
JOBS_LATEST = """
WITH RECURSIVE jobs(job) AS (
    SELECT MIN(job) FROM runs WHERE job > ''
    UNION ALL
    SELECT (SELECT MIN(job) FROM runs WHERE job > jobs.job) FROM jobs WHERE job IS NOT NULL)
SELECT r.* FROM jobs JOIN runs r ON r.job = jobs.job
    AND r.started_at = (SELECT MAX(started_at) FROM runs WHERE job = jobs.job)
ORDER BY r.job
"""


class SQLiteStore(EscalationRecords, OutboxRecords):
    label = "the outcome store"

    def __init__(self, path: Path, retention: float | None = None,
                 policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self.path = path
        self.retention_days = retention if retention is not None else retention_days()
        self._lock = threading.Lock()
        self._run_id = ""
        self._check_mode = False
        try:
            self._db = connect(path)
            migrate(self._db)
            self._mark_aborted()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot use the outcome store {path}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:  # one transaction
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _mark_aborted(self) -> None:
        """Runs of this machine left 'running' by a process that no longer exists."""
        here = socket.gethostname()
        rows = self._db.execute(
            "SELECT id, pid FROM runs WHERE status = 'running' AND control_host = ?", (here,)
        ).fetchall()
        dead = [r["id"] for r in rows if not _alive(r["pid"])]
        if dead:
            with self._write() as db:
                db.executemany("UPDATE runs SET status = 'aborted' WHERE id = ?",
                               [(i,) for i in dead])

    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, StepFinished):
            self._step(event)
        elif isinstance(event, HostFinished):
            self._host(event)
        elif isinstance(event, RunFinished):
            self._run_finished(event)

    def _run_started(self, e: RunStarted) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (id, playbook, playbooks, hosts, inventory, check_mode, status,"
                " started_at, pid, control_host, job) VALUES (?,?,?,?,?,?,'running',?,?,?,?)",
                (e.run_id, e.playbook, json.dumps(e.playbooks), json.dumps(e.hosts), e.inventory,
                 int(e.check_mode), e.started_at, os.getpid(), socket.gethostname(), e.job),
            )
        self._run_id = e.run_id
        self._check_mode = e.check_mode

    def _step(self, e: StepFinished) -> None:
        r = e.result
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO step_outcomes (run_id, playbook, host, step, status, ignored, rc,"
                " attempts, duration_s, reason, stdout_tail, stderr_tail, changed, started_at,"
                " ended_at, fields, check_mode) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (self._run_id, r.playbook, r.host, r.step, str(r.status), int(r.ignored), r.rc,
                 r.attempts, r.duration_s, r.reason, r.stdout[-TAIL:], r.stderr[-TAIL:],
                 int(r.changed), r.started_at, r.ended_at, json.dumps(dict(r.fields), default=str),
                 int(self._check_mode)),
            )
            if not self._check_mode:  # in the same transaction: never an outcome without
                record_outcome(db, r, self._run_id, self.policy)  # its incident's notices
                if "actions" in r.fields:  # nor without the actions it took
                    past.remember_actions(db, int(cursor.lastrowid or 0))

    def _host(self, e: HostFinished) -> None:
        h = e.result
        counts = {str(s): n for s in Status if (n := sum(1 for r in h.steps if r.status is s))}
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO host_outcomes VALUES (?,?,?,?,?)",
                       (self._run_id, h.host, str(h.status), json.dumps(counts),
                        h.unreachable_reason))

    def _run_finished(self, e: RunFinished) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET status = ?, exit_code = ?, ended_at = ? WHERE id = ?",
                       (e.result.status, e.result.exit_code, e.ended_at, e.result.run_id))
        self.prune()

    def recent_actions(self, playbooks: Sequence[str], since: float) -> list[PastAction]:
        return past.recent_actions(self._db, playbooks, since)

    def previous_outcomes(self, keys: Sequence[tuple[str, str, str]], per_step: int,
                          since: float) -> dict[tuple[str, str, str], tuple[PastOutcome, ...]]:
        return past.previous_outcomes(self._db, keys, per_step, since)

    def crashed(self, run_id: str, trace: str) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET status = 'crashed', exit_code = 70, ended_at = ?, "
                       "traceback = ? WHERE id = ?", (time.time(), trace, run_id))

    def skipped_run(self, run_id: str, job: str, playbooks: Sequence[str], status: str,
                    reason: str, exit_code: int) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status, exit_code,"
                " started_at, ended_at, pid, control_host, job, reason)"
                " VALUES (?,?,?,'[]',0,?,?,?,?,?,?,?,?)",
                (run_id, "+".join(playbooks), json.dumps(list(playbooks)), status, exit_code,
                 now, now, os.getpid(), socket.gethostname(), job, reason))

    def monitor_beat(self, monitor_id: str, config: str, stopped: bool = False) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO monitors (id, control_host, pid, config, started_at, last_tick,"
                " stopped_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                " last_tick = excluded.last_tick, stopped_at = excluded.stopped_at",
                (monitor_id, socket.gethostname(), os.getpid(), config, now, now,
                 now if stopped else None))

    def monitors(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM monitors ORDER BY last_tick DESC LIMIT 20")
        return [dict(r) for r in rows]

    def jobs_latest(self) -> list[dict[str, Any]]:
        rows = self._db.execute(JOBS_LATEST)
        return [_run_row(r) for r in rows]

    def steps_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Step outcomes recorded after a row id, oldest first (the newest `limit` of them)."""
        rows = self._db.execute(
            "SELECT * FROM (SELECT s.*, r.job FROM step_outcomes s JOIN runs r ON r.id = s.run_id"
            " WHERE s.id > ? ORDER BY s.id DESC LIMIT ?) ORDER BY id", (after_id, limit))
        return [_step_row(r) for r in rows]

    def prune(self) -> int:
        """Delete runs older than the retention period; returns how many."""
        cutoff = time.time() - self.retention_days * 86400
        with self._write() as db:
            return db.execute("DELETE FROM runs WHERE started_at < ? AND status != 'running'",
                              (cutoff,)).rowcount

    def runs(self, limit: int = 20, only: RunFilter | None = None) -> list[dict[str, Any]]:
        where, args = _run_filter(only or RunFilter())
        rows = self._db.execute(f"SELECT * FROM runs {where} "  # noqa: S608 - our clauses
                                "ORDER BY started_at DESC LIMIT ?", (*args, limit))
        return [_run_row(r) for r in rows]

    def recorded(self, names: Literal["playbooks", "hosts"]) -> set[str]:
        return {str(r[0]) for r in self._db.execute(RECORDED[names])}

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM step_outcomes WHERE run_id = ? ORDER BY id",
                                (run_id,))
        return [_step_row(r) for r in rows]

    def latest(self) -> list[dict[str, Any]]:
        """The latest real outcome of every playbook, host and step: a step excluded by tags
        or not run in check mode keeps the outcome it had (kept in `latest_steps`)."""
        rows = self._db.execute(
            "SELECT s.* FROM latest_steps m JOIN step_outcomes s ON s.id = m.id "
            "ORDER BY s.playbook, s.host, s.started_at, s.id")
        return [_step_row(r) for r in rows]

    def close(self) -> None:
        self._db.close()


def _id_range(prefix: str, args: list[Any]) -> str:
    """A clause for the ids that start with prefix, as a range of the primary key; a prefix
    that is no UTF-8 (a lone surrogate from the command line) starts no id."""
    try:
        prefix.encode()
    except UnicodeEncodeError:
        return "0"
    args.append(prefix)
    upper = _after_prefix(prefix)
    if upper is None:
        return "id >= ?"
    args.append(upper)
    return "id >= ? AND id < ?"


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with prefix (None: there is none).
    SQLite compares text as UTF-8 bytes, in the order of code points."""
    stripped = prefix.rstrip(chr(0x10FFFF))
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no text in UTF-8
        following = 0xE000
    return stripped[:-1] + chr(following)


RECORDED = {"playbooks": "SELECT playbook FROM runs UNION SELECT j.value FROM runs, "
                         "json_each(runs.playbooks) j",
            "hosts": "SELECT DISTINCT j.value FROM runs, json_each(runs.hosts) j"}


def _run_filter(only: RunFilter) -> tuple[str, list[Any]]:
    """A WHERE clause and its arguments for the runs `only` lets through."""
    clauses: list[str] = []
    args: list[Any] = []
    if only.playbook is not None:
        clauses.append("(playbook = ? OR ? IN (SELECT value FROM json_each(runs.playbooks)))")
        args += [only.playbook, only.playbook]
    if only.statuses is not None:
        clauses.append(f"status IN ({','.join('?' * len(only.statuses))})")
        args += sorted(only.statuses)
    if only.hosts is not None:
        clauses.append(f"EXISTS (SELECT 1 FROM json_each(runs.hosts) WHERE value IN "  # noqa: S608
                       f"({','.join('?' * len(only.hosts))}))")
        args += sorted(only.hosts)
    if only.since is not None:
        clauses.append("started_at >= ?")
        args.append(only.since)
    if only.id_prefix:  # a range of the primary key: only those runs are read
        clauses.append(_id_range(only.id_prefix, args))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["playbooks"] = json.loads(out["playbooks"])
    out["hosts"] = json.loads(out["hosts"])
    out["check_mode"] = bool(out["check_mode"])
    return out


def _step_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["fields"] = json.loads(out["fields"])
    out["changed"], out["ignored"] = bool(out["changed"]), bool(out["ignored"])
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

