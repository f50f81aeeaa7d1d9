"""What a daemon's tick, `urs status`, `urs history` and `urs incidents` read of the outcome
store does not grow with the store: the same questions asked of a store of ~1,000 and of
~50,000 step outcomes (real SQLite files, filled in one transaction) make SQLite execute as many
instructions, counted with a progress handler (no clock involved). The answers are the same
size in both stores: only what is not returned grows."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from runner.record.past import remember_actions
from runner.record.sqlite import SQLiteStore
from runner.record.store import RunFilter

HOSTS = ("web-1", "web-2")
STEPS = ("present", "alive", "online", "memory", "restarts")
KEYS = [("book", host, step) for host in HOSTS for step in STEPS]
MONTH = 30 * 86400.0
NOW = time.time()
OUTCOMES = """INSERT INTO step_outcomes (run_id, playbook, host, step, status, attempts,
    duration_s, reason, stdout_tail, stderr_tail, changed, started_at, ended_at, fields,
    check_mode) VALUES (?, 'book', ?, ?, ?, 1, 0.01, '', '', '', 0, ?, ?, ?, ?)"""


def _run(db: sqlite3.Connection, run_id: str, at: float, check: bool, fields: str,
         job: str = "") -> None:
    """A finished run of every step on every host, as the store records it."""
    db.execute("INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status, exit_code,"
               " started_at, ended_at, pid, control_host, job) VALUES (?, 'book', '[\"book\"]',"
               " '[]', ?, 'ok', 0, ?, ?, 1, 'elsewhere', ?)", (run_id, int(check), at, at, job))
    db.executemany(OUTCOMES, [(run_id, host, step, "failed" if step == "alive" else "ok", at,
                               at + 0.5, fields, int(check)) for host in HOSTS for step in STEPS])
    if "actions" in fields and not check:  # what SQLiteStore writes with each such outcome
        for (outcome,) in db.execute("SELECT id FROM step_outcomes WHERE run_id = ?", (run_id,)):
            remember_actions(db, outcome)


def _escalation(db: sqlite3.Connection, at: float, open_: bool) -> None:
    """An incident with its notice and two deliveries, and a quarantine (active when open_)."""
    state, until = ("open", NOW + 3600) if open_ else ("resolved", at + 60)
    cursor = db.execute(
        "INSERT INTO incidents (playbook, host, step, state, opened_at, failures, last_status,"
        " last_reason, last_run_id) VALUES ('book', 'web-1', 'alive', ?, ?, 3, 'failed', '',"
        " '')", (state, at))
    notice = db.execute("INSERT INTO notices (incident, event, run_id, payload, created_at)"
                        " VALUES (?, 'opened', '', '{}', ?)", (cursor.lastrowid, at)).lastrowid
    db.executemany("INSERT INTO deliveries (notice, channel, attempts, next_at, delivered_at)"
                   " VALUES (?, ?, 1, ?, ?)", [(notice, c, at, at) for c in ("mail", "hook")])
    db.execute("INSERT INTO quarantines (playbook, host, step, since, until, reason, released_at)"
               " VALUES ('book', 'web-1', 'alive', ?, ?, 'flapping', ?)",
               (at, until, None if open_ else at + 30))


def fill(path: Path, runs: int) -> Path:
    """A store of `runs` filler runs (10 outcomes each, a third in check mode, within the last
    30 days), old runs whose actions are out of the window, one run past retention, and the
    same newest 20 runs (some with actions) and open incidents in every store."""
    SQLiteStore(path).close()
    action = json.dumps({"recovery": True, "actions": [{"kind": "dispatch", "target": "a.yml"}]})
    with closing(sqlite3.connect(path)) as db, db:  # oldest first, as a store is written
        _run(db, "expired", NOW - 100 * 86400, False, action)
        for n in range(runs // 50):
            _run(db, f"past-{n}", NOW - 40 * 86400 + n, False, action)
        for n in range(runs):
            _run(db, f"fill-{n}", NOW - 2 * 86400 - (runs - n) * 30, n % 3 == 0, "{}",
                 f"job-{n % 3}")
            if n % 10 == 0:
                _escalation(db, NOW - 2 * 86400 - (runs - n) * 30, open_=False)
        for n in range(20):
            _run(db, f"tail-{n:02d}", NOW - 3600 + 60 * n, n % 2 == 1,
                 action if n % 4 == 0 else "{}", f"job-{n % 3}")
        for _ in range(3):
            _escalation(db, NOW - 600, open_=True)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, ...]]:
    folder = tmp_path_factory.mktemp("growth")
    opened = tuple(SQLiteStore(fill(folder / f"{runs}.db", runs), retention=90.0)
                   for runs in (100, 5000))
    yield opened
    for store in opened:
        store.close()


def _count(store: SQLiteStore, read: Callable[[SQLiteStore], Any]) -> tuple[int, Any]:
    """How many SQLite VM instructions read(store) took (in tens), and its answer."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    store._db.set_progress_handler(tick, 10)
    try:
        answer = read(store)
    finally:
        store._db.set_progress_handler(None, 0)
    return steps[0], answer


def _record_a_recovery(store: SQLiteStore) -> None:
    """A recovered step, as a run records it: its streak, incident and the flap guard's count
    of the step's recoveries within the window (written in both stores alike)."""
    from runner.events import StepFinished
    from runner.model import Status, StepResult

    store._run_id = "tail-19"
    for host, step in (("web-1", "alive"), ("web-2", "online")):  # quarantined, and not yet
        store.notify(StepFinished(StepResult("book", host, step, Status.RECOVERED,
                                             ended_at=NOW, fields={"recovery": True}), step))


READS: dict[str, Callable[[SQLiteStore], Any]] = {
    "recording an outcome (flap guard)": _record_a_recovery,
    "previous_outcomes": lambda s: s.previous_outcomes(KEYS, 20, NOW - MONTH),
    "recent_actions": lambda s: s.recent_actions(["book", "other"], NOW - MONTH),
    "quarantined": lambda s: s.quarantined(["book"], NOW),
    "open store (runs left running)": lambda s: s._mark_aborted(),
    "status: latest": lambda s: s.latest(),
    "status: jobs_latest": lambda s: s.jobs_latest(),
    "status: failing_channels": lambda s: s.failing_channels(),
    "history": lambda s: s.runs(20),
    "history: a run by id prefix": lambda s: s.runs(2, RunFilter(id_prefix="tail-03")),
    "history: a run's steps": lambda s: s.run_steps("tail-03"),
    "incidents": lambda s: s.incidents(),
    "incidents --all": lambda s: s.incidents(everything=True, limit=10),
    "logs": lambda s: s.steps_after(0, 50),
    "retention": lambda s: s.prune(),
}


@pytest.mark.parametrize("name", list(READS))
def test_reading_the_store_does_not_grow_with_it(stores: tuple[SQLiteStore, ...],
                                                 name: str) -> None:
    small, big = (_count(store, READS[name]) for store in stores)
    assert _size(small[1]) == _size(big[1])  # the same answer, from 50x the outcomes
    assert big[0] <= small[0] * 1.2 + 2, f"{name}: {small[0]}0 -> {big[0]}0 VM steps"


def _size(answer: Any) -> Any:
    return len(answer) if isinstance(answer, list | dict) else answer


def test_a_tick_reads_its_past_through_indexes(stores: tuple[SQLiteStore, ...]) -> None:
    """EXPLAIN QUERY PLAN of what `pipeline.run` asks before a run: no scan of the outcomes."""
    big = stores[1]
    statements: list[str] = []
    big._db.set_trace_callback(statements.append)
    try:
        previous = big.previous_outcomes(KEYS, 20, NOW - MONTH)
        actions = big.recent_actions(["book"], NOW - MONTH)
    finally:
        big._db.set_trace_callback(None)
    assert sum(len(v) for v in previous.values()) == 200 and len(actions) == 50
    plans = [" | ".join(row[3] for row in big._db.execute("EXPLAIN QUERY PLAN " + sql))
             for sql in statements]
    assert len(plans) == 2
    assert "step_outcomes USING INDEX step_history" in plans[0], plans[0]
    assert "step_actions USING INDEX step_actions_recent" in plans[1], plans[1]
    for plan in plans:
        assert "SCAN step_outcomes" not in plan and "SCAN o" not in plan, plan
        assert "SCAN step_actions" not in plan, plan


# what urs asked of a version 5 store (runner/record/sqlite.py before schema version 6)
V5_PREVIOUS = """
SELECT playbook, host, step, status, reason, fields, ended_at FROM (
 SELECT *, ROW_NUMBER() OVER (PARTITION BY playbook, host, step ORDER BY id DESC)
 AS n FROM step_outcomes WHERE playbook IN (?, ?) AND ended_at >= ?
 AND check_mode = 0) WHERE n <= ? ORDER BY id DESC"""
V5_ACTIONS = """
SELECT s.playbook, s.host, s.step, json_extract(a.value, '$.kind'),
json_extract(a.value, '$.target'), s.ended_at
FROM step_outcomes s, json_each(s.fields, '$.actions') a
WHERE s.playbook IN (?, ?) AND s.ended_at >= ? AND s.check_mode = 0
AND s.fields LIKE '%\"actions\"%' ORDER BY s.ended_at"""
FIELDS = [{}, {"recovery": True}, {"actions": [{"kind": "dispatch", "target": "a.yml"}]},
          {"recovery": True, "actions": [{"kind": "rollback", "target": "site"},
                                         {"kind": "build"}]}]


@contextmanager
def _v5_run(path: Path) -> Iterator[sqlite3.Connection]:
    """A store as urs wrote it at schema version 5, with one run 'r': add its outcomes."""
    from runner.record.migrations import MIGRATIONS

    with closing(sqlite3.connect(path)) as db:
        for script in MIGRATIONS[:5]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 5")
        with db:
            db.execute("INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status,"
                       " started_at, pid, control_host) VALUES ('r', 'book', '[]', '[]', 0,"
                       " 'ok', ?, 1, 'x')", (NOW,))
            yield db


def _v5_store(path: Path) -> None:
    """A version 5 store of 600 outcomes of 2 playbooks x 3 hosts x 3 steps, some in check
    mode, some before the window, some with actions."""
    from random import Random

    with _v5_run(path) as db:
        pick = Random(7)
        for n in range(600):
            key = (pick.choice(["book", "other"]), pick.choice((*HOSTS, "db-1")),
                   pick.choice(["present"] * 10 + ["alive"] * 10 + ["online"]))  # rare
            at = NOW - 2 * MONTH + n * MONTH / 300
            db.execute(OUTCOMES.replace("'book'", "?"), (
                "r", *key, pick.choice(["ok", "failed", "skipped"]), at, at,
                json.dumps(pick.choice(FIELDS)), int(pick.random() < 0.3)))


def test_a_version_5_store_gives_the_same_answers_once_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    _v5_store(path)
    since = NOW - MONTH
    with closing(sqlite3.connect(path)) as db:
        before: dict[tuple[str, str, str], list[Any]] = {}
        for p, h, s, status, reason, fields, at in db.execute(
                V5_PREVIOUS, ("book", "other", since, 3)):
            before.setdefault((p, h, s), []).append((status, reason, json.loads(fields), at))
        actions = [(*(str(v) for v in row[:5]), row[5])
                   for row in db.execute(V5_ACTIONS, ("book", "other", since))]
    store = SQLiteStore(path)
    try:
        keys = [(p, h, s) for p in ("book", "other", "gone") for h in (*HOSTS, "db-1")
                for s in STEPS]
        after = store.previous_outcomes(keys, 3, since)
        assert {k: [(str(o.status), o.reason, o.fields, o.at) for o in v]
                for k, v in after.items()} == before
        assert len(before) > 10 and any(len(v) < 3 for v in before.values())
        assert [(a.playbook, a.host, a.step, a.kind, a.target, a.at)
                for a in store.recent_actions(["book", "other"], since)] == actions
        assert ("book", "web-1", "present", "build", "None") in {a[:5] for a in actions}
    finally:
        store.close()


def test_retention_deletes_the_actions_of_the_runs_it_deletes(tmp_path: Path) -> None:
    from runner.events import RunFinished, RunStarted, StepFinished
    from runner.model import RunResult, Status, StepResult

    store = SQLiteStore(tmp_path / "s.db", retention=1.0)
    try:
        for run_id, age_days in (("old", 2.0), ("new", 0.5)):
            at = NOW - age_days * 86400
            store.notify(RunStarted(run_id, "p", ("p",), ("h",), 1, False, at))
            store.notify(StepFinished(StepResult(
                "p", "h", "kick", Status.CHANGED, ended_at=at,
                fields={"actions": [{"kind": "dispatch", "target": run_id}]}), "kick"))
            store.notify(RunFinished(RunResult(run_id, ()), NOW))
        assert [a.target for a in store.recent_actions(["p"], 0.0)] == ["new"]
    finally:
        store.close()


def test_actions_that_are_no_objects_neither_stop_the_upgrade_nor_a_run(tmp_path: Path) -> None:
    """A module once reported fields["actions"] as text or a mapping: the version 6 upgrade
    copies only the actions that are objects, and the store opens."""
    path = tmp_path / "v5.db"
    with _v5_run(path) as db:
        for fields in ({"actions": ["restarted web"]}, {"actions": {"kind": "x"}},
                       {"actions": "x"}, {"actions": [{"kind": "k", "target": "t"}, 7]}):
            db.execute(OUTCOMES, ("r", "h", "s", "ok", NOW, NOW, json.dumps(fields), 0))
    store = SQLiteStore(path)
    try:
        found = store.recent_actions(["book"], NOW - MONTH)
    finally:
        store.close()
    assert [(a.kind, a.target) for a in found] == [("k", "t")]
