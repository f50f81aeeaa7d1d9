"""The SQL of what a run reads of the past before it starts, for `SQLiteStore`: each step's
previous outcomes and what modules did in earlier runs. Both read only the rows they return,
through indexes (schema version 6), however many outcomes the store holds: a daemon asks on
every tick. (A PostgreSQL store does the same: a LATERAL join of the keys with a LIMIT each, and
the actions table with an index on (playbook, ended_at).)"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from runner.model import PastAction, PastOutcome, Status

Key = tuple[str, str, str]  # playbook, host, step

# the newest per_step outcomes of each (playbook, host, step) asked for: one LIMIT each, on
# step_history (without INDEXED BY, SQLite may choose step_window and sort the whole window).
# Ids follow time, so a step run on every tick reads per_step rows; one with fewer outcomes in
# the window reads its older ones too (a step run weekly: its dozen within retention).
PREVIOUS = """
SELECT o.playbook, o.host, o.step, o.status, o.reason, o.fields, o.ended_at
FROM (SELECT DISTINCT value FROM json_each(?)) k JOIN step_outcomes o ON o.id IN (
    SELECT id FROM step_outcomes INDEXED BY step_history
    WHERE playbook = json_extract(k.value, '$[0]') AND host = json_extract(k.value, '$[1]')
      AND step = json_extract(k.value, '$[2]') AND check_mode = 0 AND ended_at >= ?
    ORDER BY id DESC LIMIT ?)
ORDER BY o.id DESC
"""

# a module reports what it did as fields["actions"]: [{"kind": ..., "target": ...}] (checked
# when the step ends: runner/execute/step.py); anything else in the list is not an action
REMEMBER = """
INSERT INTO step_actions (outcome, position, playbook, host, step, kind, target, ended_at)
SELECT s.id, a.id, s.playbook, s.host, s.step, json_extract(a.value, '$.kind'),
       json_extract(a.value, '$.target'), s.ended_at
FROM step_outcomes s, json_each(s.fields, '$.actions') a WHERE s.id = ? AND a.type = 'object'
"""


def previous_outcomes(db: sqlite3.Connection, keys: Sequence[Key], per_step: int,
                      since: float) -> dict[Key, tuple[PastOutcome, ...]]:
    """The last per_step outcomes (outside check mode, since a time) of these steps, newest
    first; a step without any is left out."""
    found: dict[Key, list[PastOutcome]] = {}
    rows = db.execute(PREVIOUS, (json.dumps([list(k) for k in keys]), since, per_step))
    for playbook, host, step, status, reason, fields, at in rows:
        found.setdefault((playbook, host, step), []).append(
            PastOutcome(Status(status), reason, json.loads(fields), at))
    return {key: tuple(outcomes) for key, outcomes in found.items()}


def recent_actions(db: sqlite3.Connection, playbooks: Sequence[str],
                   since: float) -> list[PastAction]:
    """What modules of these playbooks did since a time, outside check mode, oldest first."""
    marks = ",".join("?" * len(playbooks))
    rows = db.execute(
        "SELECT playbook, host, step, kind, target, ended_at FROM step_actions"  # noqa: S608
        f" WHERE playbook IN ({marks}) AND ended_at >= ? ORDER BY ended_at, outcome, position",
        (*playbooks, since))
    return [PastAction(str(p), str(h), str(s), str(k), str(t), float(at))
            for p, h, s, k, t, at in rows]


def remember_actions(db: sqlite3.Connection, outcome: int) -> None:
    """Keep the actions of a step outcome (outside check mode) in step_actions, in the
    transaction that records the outcome."""
    db.execute(REMEMBER, (outcome,))
