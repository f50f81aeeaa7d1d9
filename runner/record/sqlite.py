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
from runner.record.incidents import EscalationRecords, record_outcome
from runner.record.migrations import migrate
from runner.record.outbox import OutboxRecords
from runner.record.store import RunFilter, private_dir, retention_days

TAIL = 2000


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
            self._db = _connect(path)
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
            db.execute(
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
        marks = ",".join("?" * len(playbooks))
        rows = self._db.execute(
            "SELECT s.playbook, s.host, s.step, json_extract(a.value, '$.kind'), "  # noqa: S608
            "json_extract(a.value, '$.target'), s.ended_at "
            "FROM step_outcomes s, json_each(s.fields, '$.actions') a "
            f"WHERE s.playbook IN ({marks}) AND s.ended_at >= ? AND s.check_mode = 0 "
            "AND s.fields LIKE '%\"actions\"%' ORDER BY s.ended_at", (*playbooks, since))
        return [PastAction(str(p), str(h), str(s), str(k), str(t), float(at))
                for p, h, s, k, t, at in rows]

    def previous_outcomes(self, playbooks: Sequence[str], per_step: int, since: float
                          ) -> dict[tuple[str, str, str], tuple[PastOutcome, ...]]:
        marks = ",".join("?" * len(playbooks))
        rows = self._db.execute(
            "SELECT playbook, host, step, status, reason, fields, ended_at FROM ("  # noqa: S608
            " SELECT *, ROW_NUMBER() OVER (PARTITION BY playbook, host, step ORDER BY id DESC)"
            f" AS n FROM step_outcomes WHERE playbook IN ({marks}) AND ended_at >= ?"
            " AND check_mode = 0) WHERE n <= ? ORDER BY id DESC", (*playbooks, since, per_step))
        found: dict[tuple[str, str, str], list[PastOutcome]] = {}
        for playbook, host, step, status, reason, fields, at in rows:
            found.setdefault((playbook, host, step), []).append(
                PastOutcome(Status(status), reason, json.loads(fields), at))
        return {key: tuple(outcomes) for key, outcomes in found.items()}

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
        rows = self._db.execute(
            "SELECT r.* FROM runs r JOIN (SELECT job, MAX(started_at) AS s FROM runs"
            " WHERE job != '' GROUP BY job) m ON r.job = m.job AND r.started_at = m.s"
            " ORDER BY r.job")
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

    def latest(self, playbook: str | None = None) -> list[dict[str, Any]]:
        """The latest real outcome of every playbook, host and step: a step excluded by tags
        or not run in check mode keeps the outcome it had (kept in `latest_steps`)."""
        where = "WHERE m.playbook = ?" if playbook else ""
        rows = self._db.execute(
            "SELECT s.* FROM latest_steps m JOIN step_outcomes s ON s.id = m.id "  # noqa: S608
            f"{where} "
            "ORDER BY s.playbook, s.host, s.started_at, s.id", (playbook,) if playbook else ())
        return [_step_row(r) for r in rows]

    def close(self) -> None:
        self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
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
    if only.id_prefix:
        clauses.append("substr(id, 1, ?) = ?")
        args += [len(only.id_prefix), only.id_prefix]
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

