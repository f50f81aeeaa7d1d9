"""The outcome store's schema, one version at a time (`PRAGMA user_version`): a store made by
an earlier urs is upgraded in place when it is opened, in one transaction per version."""

from __future__ import annotations

import sqlite3

from runner.errors import StoreError

# Version 1 is the schema urs 0.1 made without a version number.
V1 = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, playbook TEXT NOT NULL, playbooks TEXT NOT NULL, hosts TEXT NOT NULL,
    inventory TEXT NOT NULL DEFAULT '', check_mode INTEGER NOT NULL, status TEXT NOT NULL,
    exit_code INTEGER, started_at REAL NOT NULL, ended_at REAL,
    pid INTEGER NOT NULL, control_host TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS host_outcomes (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, host TEXT NOT NULL,
    status TEXT NOT NULL, counts TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, host)
);
CREATE TABLE IF NOT EXISTS step_outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    playbook TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
    ignored INTEGER NOT NULL DEFAULT 0, rc INTEGER, attempts INTEGER NOT NULL,
    duration_s REAL NOT NULL, reason TEXT NOT NULL, stdout_tail TEXT NOT NULL,
    stderr_tail TEXT NOT NULL, changed INTEGER NOT NULL, started_at REAL NOT NULL,
    ended_at REAL NOT NULL, fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS step_latest ON step_outcomes (playbook, host, step, id);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
"""

V2 = """
ALTER TABLE runs ADD COLUMN traceback TEXT NOT NULL DEFAULT '';
ALTER TABLE step_outcomes ADD COLUMN check_mode INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS runs_playbook ON runs (playbook, started_at);
CREATE INDEX IF NOT EXISTS step_recent ON step_outcomes (playbook, host, ended_at);
"""

V3 = """
ALTER TABLE runs ADD COLUMN job TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, started_at);
CREATE TABLE IF NOT EXISTS monitors (
    id TEXT PRIMARY KEY, control_host TEXT NOT NULL, pid INTEGER NOT NULL,
    config TEXT NOT NULL, started_at REAL NOT NULL, last_tick REAL NOT NULL,
    stopped_at REAL
);
"""

V4 = """
CREATE TABLE IF NOT EXISTS streaks (
    playbook TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL,
    failures INTEGER NOT NULL, incident INTEGER, incident_failures INTEGER NOT NULL,
    escalated INTEGER NOT NULL, PRIMARY KEY (playbook, host, step)
);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT, playbook TEXT NOT NULL, host TEXT NOT NULL,
    step TEXT NOT NULL, state TEXT NOT NULL, opened_at REAL NOT NULL, resolved_at REAL,
    failures INTEGER NOT NULL, last_status TEXT NOT NULL, last_reason TEXT NOT NULL,
    last_run_id TEXT NOT NULL, escalated_at REAL, acked_at REAL, reminded_at REAL
);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state, opened_at);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT, incident INTEGER NOT NULL, event TEXT NOT NULL,
    run_id TEXT NOT NULL, payload TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notice INTEGER NOT NULL REFERENCES notices(id) ON DELETE CASCADE, channel TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at REAL,
    last_attempt_at REAL, last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (delivered_at, next_at);
CREATE TABLE IF NOT EXISTS quarantines (
    id INTEGER PRIMARY KEY AUTOINCREMENT, playbook TEXT NOT NULL, host TEXT NOT NULL,
    step TEXT NOT NULL, since REAL NOT NULL, until REAL NOT NULL, reason TEXT NOT NULL,
    released_at REAL
);
CREATE INDEX IF NOT EXISTS quarantines_step ON quarantines (playbook, host, step, until);
CREATE TABLE IF NOT EXISTS pings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, run_id TEXT NOT NULL,
    kind TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL, error TEXT NOT NULL
);
"""

# `urs status` reads the latest outcome of each (playbook, host, step): kept in a small table
# by a trigger, so it reads a few hundred rows instead of grouping every outcome ever stored
# (0.3 s at a million outcomes).
# An earlier urs numbered this table version 4 (a trigger without WHEN) and had no escalation
# tables: such a store at version 4 skips V4 above, so V5 creates them too (every statement of
# V4 is IF NOT EXISTS) and replaces the trigger.
V5 = V4 + """
DROP TRIGGER IF EXISTS latest_steps_insert;
CREATE TABLE IF NOT EXISTS latest_steps (
    playbook TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (playbook, host, step)
) WITHOUT ROWID;
INSERT OR REPLACE INTO latest_steps (playbook, host, step, id)
    SELECT playbook, host, step, MAX(id) FROM step_outcomes
    WHERE NOT (status = 'skipped' AND json_extract(fields, '$.skip') IN ('tags', 'check'))
    GROUP BY playbook, host, step;
CREATE TRIGGER IF NOT EXISTS latest_steps_insert AFTER INSERT ON step_outcomes
WHEN NOT (NEW.status = 'skipped' AND json_extract(NEW.fields, '$.skip') IN ('tags', 'check'))
BEGIN
    INSERT OR REPLACE INTO latest_steps (playbook, host, step, id)
        VALUES (NEW.playbook, NEW.host, NEW.step, NEW.id);
END
"""  # noqa: S608 - our own schema, no input

# What a run reads before it starts must not grow with the store (a daemon checking 20 hosts x
# 5 steps every 30 s writes ~290,000 step outcomes a day):
# - a step's previous outcomes: `LIMIT per_step` on (playbook, host, step, id) outside check
#   mode; the flap guard's count of recoveries: a range of ended_at on the same step;
# - what modules did (`fields["actions"]`): a row each in step_actions, written with the outcome
#   (back-filled here), read by (playbook, ended_at) instead of json_each over every outcome;
# - a run's steps and the outcomes that retention deletes with their run: by run_id;
# - the runs left 'running' (read whenever a store is opened), an incident's deliveries and
#   `urs incidents --all`, the active quarantines of a playbook and the end of a step's last
#   quarantine (the flap guard): indexes of their own.
V6 = """
DROP INDEX IF EXISTS step_latest;
DROP INDEX IF EXISTS step_recent;
CREATE INDEX IF NOT EXISTS step_history ON step_outcomes (playbook, host, step, id)
    WHERE check_mode = 0;
CREATE INDEX IF NOT EXISTS step_window ON step_outcomes (playbook, host, step, ended_at)
    WHERE check_mode = 0;
CREATE INDEX IF NOT EXISTS step_run ON step_outcomes (run_id);
CREATE TABLE IF NOT EXISTS step_actions (
    outcome INTEGER NOT NULL REFERENCES step_outcomes(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, playbook TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL,
    kind TEXT, target TEXT, ended_at REAL NOT NULL, PRIMARY KEY (outcome, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS step_actions_recent ON step_actions (playbook, ended_at);
INSERT OR IGNORE INTO step_actions
    SELECT s.id, a.id, s.playbook, s.host, s.step, json_extract(a.value, '$.kind'),
           json_extract(a.value, '$.target'), s.ended_at
    FROM step_outcomes s, json_each(s.fields, '$.actions') a
    WHERE s.check_mode = 0 AND s.fields LIKE '%"actions"%' AND a.type = 'object';
CREATE INDEX IF NOT EXISTS runs_running ON runs (control_host) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS notices_incident ON notices (incident);
CREATE INDEX IF NOT EXISTS deliveries_notice ON deliveries (notice);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents (opened_at);
CREATE INDEX IF NOT EXISTS quarantines_active ON quarantines (playbook, until)
    WHERE released_at IS NULL;
DROP INDEX IF EXISTS quarantines_step;
CREATE INDEX IF NOT EXISTS quarantines_end
    ON quarantines (playbook, host, step, COALESCE(released_at, until))
"""

# Each delivery names the configuration that queued it, so that one whose channel was removed
# from that configuration is dropped (with the reason) instead of retried for ever, and another
# configuration sharing the store leaves it alone. Older deliveries have config ''.
V7 = """
ALTER TABLE deliveries ADD COLUMN config TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN dropped_at REAL;
ALTER TABLE deliveries ADD COLUMN dropped_reason TEXT NOT NULL DEFAULT ''
"""

MIGRATIONS = (V1, V2, V3, V4, V5, V6, V7)


def migrate(db: sqlite3.Connection) -> None:
    """Bring the store to the newest version; StoreError for a store from a newer urs. Each
    version is applied in its own write transaction, after reading the version again inside
    it: processes that open a new store at the same moment apply each version once."""
    for number in range(1, len(MIGRATIONS) + 1):
        if _version(db) >= number:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if _version(db) < number:
                for statement in _statements(MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _version(db: sqlite3.Connection) -> int:
    """The schema version; a store made before versions were recorded is version 1."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise StoreError(f"the outcome store has schema version {version}; this urs knows "
                         f"{len(MIGRATIONS)} at most (upgrade urs)")
    if version == 0 and _has_table(db, "runs"):
        return 1
    return version


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _statements(script: str) -> list[str]:
    """The statements of a script; a trigger's body keeps its own semicolons."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current.strip())
            current = ""
    return statements
