"""The SQL of escalation, for `SQLiteStore`: streaks and incidents updated in the transaction
that records the outcome causing them, the notices they queue (one delivery per channel, sent
through runner.record.outbox), the flap guard's quarantines and the heartbeat pings. The
decisions are `runner.notify`'s."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.model import StepResult
from runner.notify import (
    ESCALATED,
    OPENED,
    REMINDER,
    RESOLVED,
    Policy,
    Streak,
    decide,
    payload,
)

Key = tuple[str, str, str]  # playbook, host, step


def record_outcome(db: sqlite3.Connection, result: StepResult, run_id: str,
                   policy: Policy) -> None:
    """Apply one outcome (outside check mode) to its streak and incident; queue notices."""
    key = (result.playbook, result.host, result.step)
    streak = _streak(db, key)
    decision = decide(streak, result.status, policy.threshold(result.playbook, result.step),
                      policy)
    facts = {"status": str(result.status), "reason": result.reason, "stdout": result.stdout,
             "stderr": result.stderr, "run_id": run_id}
    new = decision.streak
    if decision.open:
        new = Streak(new.failures, _open(db, key, facts, new.failures), new.incident_failures)
        _notice(db, new.incident, OPENED, facts, policy)
    elif streak.incident is not None:
        _touch(db, streak.incident, facts, new.incident_failures)
        if decision.escalate:
            db.execute("UPDATE incidents SET escalated_at = ? WHERE id = ?",
                       (time.time(), streak.incident))
            _notice(db, streak.incident, ESCALATED, facts, policy)
        if decision.resolve:
            db.execute("UPDATE incidents SET state = 'resolved', resolved_at = ? WHERE id = ?",
                       (time.time(), streak.incident))
            _notice(db, streak.incident, RESOLVED, facts, policy)
    _save(db, key, new)
    if result.fields.get("recovery"):
        _flap_guard(db, key, policy)


def _streak(db: sqlite3.Connection, key: Key) -> Streak:
    row = db.execute("SELECT failures, incident, incident_failures, escalated FROM streaks "
                     "WHERE playbook = ? AND host = ? AND step = ?", key).fetchone()
    return Streak(row[0], row[1], row[2], bool(row[3])) if row else Streak()


def _save(db: sqlite3.Connection, key: Key, streak: Streak) -> None:
    db.execute("INSERT OR REPLACE INTO streaks VALUES (?,?,?,?,?,?,?)",
               (*key, streak.failures, streak.incident, streak.incident_failures,
                int(streak.escalated)))


def _open(db: sqlite3.Connection, key: Key, facts: Mapping[str, Any], failures: int) -> int:
    cursor = db.execute(
        "INSERT INTO incidents (playbook, host, step, state, opened_at, failures, last_status,"
        " last_reason, last_run_id) VALUES (?,?,?,'open',?,?,?,?,?)",
        (*key, time.time(), failures, facts["status"], facts["reason"], facts["run_id"]))
    return int(cursor.lastrowid or 0)


def _touch(db: sqlite3.Connection, incident: int, facts: Mapping[str, Any],
           failures: int) -> None:
    db.execute("UPDATE incidents SET failures = MAX(failures, ?), last_status = ?,"
               " last_reason = ?, last_run_id = ? WHERE id = ?",
               (failures, facts["status"], facts["reason"], facts["run_id"], incident))


def _notice(db: sqlite3.Connection, incident: int | None, event: str,
            facts: Mapping[str, Any], policy: Policy) -> None:
    row = db.execute("SELECT * FROM incidents WHERE id = ?", (incident,)).fetchone()
    body = payload(dict(row), facts, event)
    now = time.time()
    cursor = db.execute("INSERT INTO notices (incident, event, run_id, payload, created_at)"
                        " VALUES (?,?,?,?,?)",
                        (incident, event, facts.get("run_id", ""), json.dumps(body), now))
    db.executemany("INSERT INTO deliveries (notice, channel, next_at, config) VALUES (?,?,?,?)",
                   [(cursor.lastrowid, channel, now, policy.config)
                    for channel in policy.channels_for(event)])


def _flap_guard(db: sqlite3.Connection, key: Key, policy: Policy) -> None:
    """Quarantine a step whose recovery ran more than max_recoveries times in the window
    (counting from the end of its last quarantine)."""
    now = time.time()
    last = db.execute("SELECT MAX(COALESCE(released_at, until)) FROM quarantines WHERE"
                      " playbook = ? AND host = ? AND step = ?", key).fetchone()[0] or 0.0
    if last > now:
        return  # quarantined already
    since = max(now - policy.recovery_window_s, last)
    count = db.execute(
        "SELECT COUNT(*) FROM step_outcomes WHERE playbook = ? AND host = ? AND step = ?"
        " AND ended_at >= ? AND check_mode = 0 AND json_extract(fields, '$.recovery') = 1",
        (*key, since)).fetchone()[0]
    if count > policy.max_recoveries:
        reason = (f"its recovery ran {count} times within {_span(policy.recovery_window_s)} "
                  f"(more than {policy.max_recoveries})")
        db.execute("INSERT INTO quarantines (playbook, host, step, since, until, reason)"
                   " VALUES (?,?,?,?,?,?)", (*key, now, now + policy.quarantine_s, reason))


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"


def quarantined(db: sqlite3.Connection, playbooks: Sequence[str], now: float) -> dict[Key, str]:
    marks = ",".join("?" * len(playbooks))
    rows = db.execute(
        f"SELECT playbook, host, step, reason, until FROM quarantines WHERE playbook IN ({marks})"  # noqa: S608
        " AND until > ? AND released_at IS NULL", (*playbooks, now))
    return {(p, h, s): f"{reason}; quarantined until {_clock(until)} (`urs release` lifts it)"
            for p, h, s, reason, until in rows}


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(timestamp))


def release(db: sqlite3.Connection, playbook: str, step: str | None,
            hosts: Sequence[str] | None) -> int:
    sql = "UPDATE quarantines SET released_at = ? WHERE playbook = ? AND released_at IS NULL" \
          " AND until > ?"
    args: list[Any] = [time.time(), playbook, time.time()]
    if step is not None:
        sql += " AND step = ?"
        args.append(step)
    if hosts is not None:
        sql += f" AND host IN ({','.join('?' * len(hosts))})"
        args += list(hosts)
    return int(db.execute(sql, args).rowcount)


def due_notices(db: sqlite3.Connection, policy: Policy, now: float) -> int:
    """Escalations by time open and reminders that are due, queued; how many."""
    queued = 0
    for row in db.execute("SELECT * FROM incidents WHERE state = 'open'").fetchall():
        incident = dict(row)
        facts = {"status": incident["last_status"], "reason": incident["last_reason"],
                 "run_id": incident["last_run_id"]}
        if _escalation_due(incident, policy, now):
            db.execute("UPDATE incidents SET escalated_at = ? WHERE id = ?", (now, row["id"]))
            db.execute("UPDATE streaks SET escalated = 1 WHERE incident = ?", (row["id"],))
            _notice(db, row["id"], ESCALATED, facts, policy)
            queued += 1
        elif _reminder_due(incident, policy, now):
            db.execute("UPDATE incidents SET reminded_at = ? WHERE id = ?", (now, row["id"]))
            _notice(db, row["id"], REMINDER, facts, policy)
            queued += 1
    return queued


def _escalation_due(incident: Mapping[str, Any], policy: Policy, now: float) -> bool:
    return (incident["escalated_at"] is None and policy.escalate_after_s > 0
            and now - incident["opened_at"] >= policy.escalate_after_s)


def _reminder_due(incident: Mapping[str, Any], policy: Policy, now: float) -> bool:
    if policy.remind_every_s <= 0 or incident["acked_at"] is not None:
        return False
    last = incident["reminded_at"] or incident["opened_at"]
    return bool(now - last >= policy.remind_every_s)


def incidents(db: sqlite3.Connection, everything: bool, limit: int) -> list[dict[str, Any]]:
    where = "" if everything else "WHERE i.state = 'open'"
    rows = db.execute(
        "SELECT i.*, (SELECT json_group_array(json_object('channel', d.channel, 'event', n.event,"  # noqa: S608
        " 'delivered_at', d.delivered_at, 'attempts', d.attempts, 'error', d.last_error,"
        " 'dropped_at', d.dropped_at, 'dropped_reason', d.dropped_reason))"
        " FROM deliveries d JOIN notices n ON n.id = d.notice WHERE n.incident = i.id)"
        f" AS deliveries FROM incidents i {where} ORDER BY i.opened_at DESC LIMIT ?",
        (limit,))
    return [{**dict(r), "deliveries": json.loads(r["deliveries"] or "[]")} for r in rows]


def ack(db: sqlite3.Connection, incident: int) -> bool:
    return bool(db.execute("UPDATE incidents SET acked_at = ? WHERE id = ? AND acked_at IS NULL"
                           " AND state = 'open'", (time.time(), incident)).rowcount)


def ping(db: sqlite3.Connection, job: str, run_id: str, kind: str, ok: bool,
         error: str) -> None:
    db.execute("INSERT INTO pings (job, run_id, kind, at, ok, error) VALUES (?,?,?,?,?,?)",
               (job, run_id, kind, time.time(), int(ok), error))



class EscalationRecords:
    """The escalation part of `SQLiteStore` (a mixin: it uses the store's connection and its
    write transactions)."""

    _db: sqlite3.Connection
    policy: Policy

    def _write(self) -> Any: ...  # provided by the store

    def incidents(self, everything: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        return incidents(self._db, everything, limit)

    def ack(self, incident: int) -> bool:
        with self._write() as db:
            return ack(db, incident)

    def due_notices(self, now: float) -> int:
        with self._write() as db:
            return due_notices(db, self.policy, now)

    def quarantined(self, playbooks: Sequence[str], now: float) -> dict[Key, str]:
        return quarantined(self._db, playbooks, now)

    def release(self, playbook: str, step: str | None, hosts: Sequence[str] | None) -> int:
        with self._write() as db:
            return release(db, playbook, step, hosts)

    def ping(self, job: str, run_id: str, kind: str, ok: bool, error: str) -> None:
        with self._write() as db:
            ping(db, job, run_id, kind, ok, error)
