"""The values that flow down the pipeline: playbooks and steps as loaded, outcomes as run."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SHELL = "shell"


class Status(enum.StrEnum):
    OK = "ok"
    CHANGED = "changed"
    RECOVERED = "recovered"
    FAILED = "failed"  # the thing checked is broken
    ERROR = "error"  # the check itself broke: never followed by recover
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C, SIGTERM or the run's deadline
    QUARANTINED = "quarantined"  # failing, and its recovery withheld by the flap guard
    UNREACHABLE = "unreachable"


PASSED = frozenset({Status.OK, Status.CHANGED, Status.RECOVERED})
# outcomes that count as failing (streaks, incidents, `--failing`, the views' problems)
FAILING = frozenset({Status.FAILED, Status.ERROR, Status.QUARANTINED, Status.UNREACHABLE})


@dataclass(frozen=True)
class Action:
    """What a step does: a shell command (module `shell`, args `{"cmd": ...}`) or a module call."""

    module: str
    args: Mapping[str, Any]
    line: int

    @property
    def is_shell(self) -> bool:
        return self.module == SHELL

    def describe(self) -> str:
        if self.is_shell:
            return str(self.args["cmd"])
        return f"{self.module} {dict(self.args)}"


@dataclass(frozen=True)
class Retry:
    retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    max_delay: float | None = None

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
        wait = self.delay * self.backoff ** max(attempt - 2, 0)
        return min(wait, self.max_delay) if self.max_delay is not None else wait


@dataclass(frozen=True)
class Step:
    name: str
    line: int
    index: int
    kind: str  # "run", "check" or "module"
    action: Action
    recover: Action | None = None
    needs: tuple[str, ...] = ()
    when: str | None = None
    retry: Retry = Retry()
    timeout: float | None = None
    ignore_errors: bool = False
    tags: frozenset[str] = frozenset()
    become: bool | None = None
    become_user: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    no_log: bool = False
    local: bool = False
    run_once: bool = False
    ok_codes: frozenset[int] = frozenset({0})
    description: str = ""
    key_lines: Mapping[str, int] = field(default_factory=dict)  # where each key was written

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class Playbook:
    name: str
    path: str
    description: str = ""
    hosts: str = "all"
    vars: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    includes: tuple[Playbook, ...] = ()
    concurrency: int = 4
    timeout: float | None = None  # its steps' timeout where they set none
    serial: int | None = None
    max_fail_percentage: float | None = None

    def flatten(self) -> tuple[Playbook, ...]:
        """This playbook (if it has steps) and every included one, depth first, in file order."""
        own = (self,) if self.steps or not self.includes else ()
        return own + tuple(p for inc in self.includes for p in inc.flatten())


@dataclass(frozen=True)
class StepResult:
    playbook: str
    host: str
    step: str
    status: Status
    rc: int | None = None
    attempts: int = 0
    duration_s: float = 0.0
    reason: str = ""
    stdout: str = ""
    stderr: str = ""
    changed: bool = False
    ignored: bool = False
    started_at: float = 0.0
    ended_at: float = 0.0
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def blocks_dependents(self) -> bool:
        """A dependency that did not pass (and was not ignored) skips its dependents."""
        if self.status in PASSED or self.ignored:
            return False
        return not (self.status is Status.SKIPPED
                    and self.fields.get("skip") in {"when", "check", "module"})

    def as_vars(self) -> dict[str, Any]:
        """How later steps see this result as `steps.<name>`."""
        return {
            **self.fields, "status": str(self.status), "rc": self.rc, "stdout": self.stdout,
            "stderr": self.stderr, "changed": self.changed, "attempts": self.attempts,
            "reason": self.reason, "failed": self.status in {Status.FAILED, Status.ERROR},
        }


@dataclass(frozen=True)
class PastAction:
    """Something a module did to the world in an earlier run (a workflow dispatched, a deploy
    restored), as the store remembers it: modules cap such actions per window with these.
    A module reports its own in its result's `fields["actions"]` as {"kind", "target"}."""

    playbook: str
    host: str
    step: str
    kind: str
    target: str
    at: float  # UTC epoch seconds


@dataclass(frozen=True)
class PastOutcome:
    """One earlier outcome of a step on a host (not in check mode), as the store remembers it:
    modules count consecutive failures across runs with these."""

    status: Status
    reason: str
    fields: Mapping[str, Any]
    at: float  # UTC epoch seconds


@dataclass(frozen=True)
class HostResult:
    host: str
    steps: tuple[StepResult, ...]
    unreachable_reason: str = ""

    def count(self, status: Status) -> int:
        return sum(1 for r in self.steps if r.status is status and not r.ignored)

    @property
    def ignored(self) -> int:
        return sum(1 for r in self.steps if r.ignored)

    @property
    def status(self) -> Status:
        if self.unreachable_reason or self.count(Status.UNREACHABLE):
            return Status.UNREACHABLE
        for status in (Status.FAILED, Status.ERROR, Status.QUARANTINED, Status.INTERRUPTED,
                       Status.RECOVERED, Status.CHANGED):
            if self.count(status):
                return status
        return Status.OK


@dataclass(frozen=True)
class RunResult:
    run_id: str
    hosts: tuple[HostResult, ...]
    interrupted: bool = False

    @property
    def status(self) -> str:
        """interrupted, unreachable, failed (a step failed or broke), recovered, changed or ok."""
        statuses = {h.status for h in self.hosts}
        if self.interrupted or Status.INTERRUPTED in statuses:
            return "interrupted"
        if Status.UNREACHABLE in statuses:
            return "unreachable"
        if statuses & {Status.FAILED, Status.ERROR, Status.QUARANTINED}:
            return "failed"
        for status in (Status.RECOVERED, Status.CHANGED):
            if status in statuses:
                return str(status)
        return str(Status.OK)

    @property
    def exit_code(self) -> int:
        return {"interrupted": 130, "unreachable": 4, "failed": 1}.get(self.status, 0)
