"""The outcome store's protocol and where it lives.

Every run, host outcome and step outcome is recorded; `history`, `status`, escalation and flap
detection read them back. `runner.record.sqlite.SQLiteStore` is the default store: one file
under the user's state directory (or `--store` / `URS_STORE`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from runner.events import Event
from runner.model import PastAction, PastOutcome
from runner.notify import Pending, Policy

RETENTION_DAYS = 90.0


@dataclass(frozen=True)
class RunFilter:
    """Which runs `urs history` shows; every part is optional and they all must hold."""

    playbook: str | None = None  # the run's playbook, or one it ran (`health` runs health-pm2)
    hosts: frozenset[str] | None = None  # it ran on one of these
    statuses: frozenset[str] | None = None
    since: float | None = None  # it started then or later (epoch seconds)
    id_prefix: str = ""


class OutcomeStore(Protocol):
    """What the rest of urs needs of a store; SQLite today, PostgreSQL can follow."""

    def notify(self, event: Event) -> None: ...

    def runs(self, limit: int = 20, only: RunFilter | None = None) -> list[dict[str, Any]]:
        """The latest runs, newest first (those `only` lets through)."""
        ...

    def recorded(self, names: Literal["playbooks", "hosts"]) -> set[str]:
        """Every playbook or host that a recorded run names."""
        ...

    def run_steps(self, run_id: str) -> list[dict[str, Any]]: ...

    def latest(self) -> list[dict[str, Any]]: ...

    def recent_actions(self, playbooks: Sequence[str], since: float) -> list[PastAction]:
        """What modules of these playbooks did (`fields["actions"]`) since a time, outside
        check mode, oldest first; reads only the actions it returns."""
        ...

    def previous_outcomes(self, keys: Sequence[tuple[str, str, str]], per_step: int,
                          since: float) -> dict[tuple[str, str, str], tuple[PastOutcome, ...]]:
        """The last per_step outcomes (outside check mode, since a time) of these steps, each
        a (playbook, host, step), newest first; a step without any is left out. Reads the
        rows it returns, not the store (a daemon asks on every tick)."""
        ...

    def skipped_run(self, run_id: str, job: str, playbooks: Sequence[str], status: str,
                    reason: str, exit_code: int) -> None:
        """Record a run that did not happen (a daemon's tick skipped, its input invalid)."""
        ...

    def monitor_beat(self, monitor_id: str, config: str, stopped: bool = False) -> None:
        """A daemon is alive (or, with stopped, has stopped): what `urs status` shows."""
        ...

    def monitors(self) -> list[dict[str, Any]]: ...

    def jobs_latest(self) -> list[dict[str, Any]]:
        """The latest run of every daemon job."""
        ...

    def steps_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Step outcomes recorded after a row id, oldest first (`urs logs -f`)."""
        ...

    # escalation (runner.record.incidents): incidents, the outbox, the flap guard, pings
    def incidents(self, everything: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """Open incidents (everything: resolved ones too), newest first, with deliveries."""
        ...

    def ack(self, incident: int) -> bool: ...

    def due_notices(self, now: float) -> int:
        """Queue escalations by time and reminders that are due; how many."""
        ...

    def pending(self, now: float, limit: int = 500, claim_s: float = 120.0,
                config: str | None = None) -> list[Pending]:
        """Deliveries due now, oldest first, claimed for claim_s seconds (another process
        delivering meanwhile does not get them): those the configuration `config` queued
        (None: every configuration's). Dropped deliveries never are."""
        ...

    def drop_deliveries(self, config: str, keep: Sequence[str], reason: str) -> dict[str, int]:
        """Drop the undelivered deliveries that `config` queued for a channel not in `keep`:
        never attempted again, the reason kept; how many per channel."""
        ...

    def attempted(self, ids: Sequence[int], ok: bool, error: str,
                  next_at: float | None) -> None:
        """Record a delivery attempt of these deliveries; when not ok, retry at next_at."""
        ...

    def quarantined(self, playbooks: Sequence[str],
                    now: float) -> dict[tuple[str, str, str], str]:
        """Steps (playbook, host, step) whose recovery is withheld now, with the reason."""
        ...

    def release(self, playbook: str, step: str | None, hosts: Sequence[str] | None) -> int:
        """Lift quarantines; how many."""
        ...

    def ping(self, job: str, run_id: str, kind: str, ok: bool, error: str) -> None: ...

    def failing_channels(self) -> list[dict[str, Any]]: ...

    def crashed(self, run_id: str, trace: str) -> None:
        """Mark a run that a bug in urs ended, keeping the traceback."""
        ...

    def close(self) -> None: ...


def retention_days() -> float:
    """URS_RETENTION_DAYS, else 90."""
    try:
        return float(os.environ.get("URS_RETENTION_DAYS") or RETENTION_DAYS)
    except ValueError:
        return RETENTION_DAYS


def default_path() -> Path:
    if os.environ.get("URS_STORE"):
        return Path(os.environ["URS_STORE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "urs" / "outcomes.db"


def private_dir(folder: Path) -> None:
    """Create folder and any missing parents as 0700; existing folders are left as they are."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def open_store(path: Path, policy: Policy | None = None) -> OutcomeStore:
    """The store at path, deciding incidents by policy; StoreError when it cannot be used."""
    from runner.record.sqlite import SQLiteStore

    return SQLiteStore(path, policy=policy)
