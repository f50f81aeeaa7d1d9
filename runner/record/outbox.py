"""The outbox's SQL, for `SQLiteStore`: deliveries due now (claimed, so that two senders never
send one twice), their attempts, the channels that are failing, and deliveries dropped because
the configuration that queued them no longer has their channel.

Each delivery belongs to the configuration that queued it (`Policy.config`, its file); the ones
queued before deliveries were named so (config '') are sent by every configuration's sender and
dropped by none (they may be another project's). A dropped delivery keeps its reason and is
never attempted again, whatever the configuration says later."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from runner.notify import Pending

MINE = " AND d.config IN (?, '')"  # a configuration's deliveries, and the unnamed old ones


def pending(db: sqlite3.Connection, now: float, limit: int, claim_s: float,
            config: str | None) -> list[Pending]:
    """Deliveries due now (of `config`; None: of every configuration), claimed for claim_s
    (their next_at moved on in this transaction)."""
    mine, args = ("", ()) if config is None else (MINE, (config,))
    rows = db.execute(
        "SELECT d.id, d.channel, n.event, n.run_id, n.payload, d.attempts, n.created_at"  # noqa: S608
        " FROM deliveries d JOIN notices n ON n.id = d.notice"
        " WHERE d.delivered_at IS NULL AND d.dropped_at IS NULL AND d.next_at <= ?"
        f"{mine} ORDER BY d.id LIMIT ?", (now, *args, limit)).fetchall()
    db.executemany("UPDATE deliveries SET next_at = ? WHERE id = ?",
                   [(now + claim_s, r[0]) for r in rows])
    return [Pending(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


def attempted(db: sqlite3.Connection, ids: Sequence[int], ok: bool, error: str,
              next_at: float | None) -> None:
    now = time.time()
    db.executemany(
        "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?,"
        " delivered_at = ?, next_at = COALESCE(?, next_at) WHERE id = ?",
        [(now, "" if ok else error, now if ok else None, next_at, i) for i in ids])


def drop(db: sqlite3.Connection, config: str, keep: Sequence[str],
         reason: str) -> dict[str, int]:
    """The undelivered deliveries of `config` to a channel not in `keep`, dropped with the
    reason; how many per channel. Those queued before deliveries were named (config '') are
    left alone: they may be another configuration's that shares the store."""
    marks = ",".join("?" * len(keep))
    rows = db.execute(
        "SELECT d.id, d.channel FROM deliveries d WHERE d.delivered_at IS NULL"  # noqa: S608
        f" AND d.dropped_at IS NULL AND d.config = ? AND d.channel NOT IN ({marks})",
        (config, *keep)).fetchall()
    now = time.time()
    db.executemany("UPDATE deliveries SET dropped_at = ?, dropped_reason = ? WHERE id = ?",
                   [(now, reason, r[0]) for r in rows])
    return dict(Counter(r[1] for r in rows))


def failing_channels(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Channels whose latest delivery attempt failed: what `urs status` warns about."""
    rows = db.execute(
        "SELECT channel, MAX(last_attempt_at) AS at, last_error, COUNT(*) AS waiting"
        " FROM deliveries WHERE delivered_at IS NULL AND dropped_at IS NULL AND attempts > 0"
        " GROUP BY channel")
    return [dict(r) for r in rows]


class OutboxRecords:
    """The outbox part of `SQLiteStore` (a mixin: it uses the store's connection and its
    write transactions)."""

    _db: sqlite3.Connection

    def _write(self) -> Any: ...  # provided by the store

    def pending(self, now: float, limit: int = 500, claim_s: float = 120.0,
                config: str | None = None) -> list[Pending]:
        with self._write() as db:
            return pending(db, now, limit, claim_s, config)

    def attempted(self, ids: Sequence[int], ok: bool, error: str,
                  next_at: float | None) -> None:
        with self._write() as db:
            attempted(db, ids, ok, error, next_at)

    def drop_deliveries(self, config: str, keep: Sequence[str], reason: str) -> dict[str, int]:
        with self._write() as db:
            return drop(db, config, keep, reason)

    def failing_channels(self) -> list[dict[str, Any]]:
        return failing_channels(self._db)
