"""Built-in modules: the registry and the protocol a module implements.

A module is called in one of two modes: `check` (read-only: report whether the state is as
asked) or `apply` (bring the state about, reporting `changed`). A step that names a module
directly applies it; `check:` and `recover:` call it in check and apply mode.
See docs/extending.md.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.connections import Become, Connection
from runner.errors import DeadlineExceeded, Interrupted
from runner.fields import Fields
from runner.model import PastAction, PastOutcome


class Mode(enum.StrEnum):
    CHECK = "check"
    APPLY = "apply"


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    changed: bool = False
    reason: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    skipped: bool = False  # nothing to do here (no token, not configured): `reason` says why


@dataclass(frozen=True)
class ModuleCall:
    """Everything a module may use: its rendered arguments and the host's connection."""

    args: Mapping[str, Any]
    mode: Mode
    connection: Connection
    host: str
    vars: Mapping[str, Any]
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    become: Become | None = None
    deadline: float | None = None  # time.monotonic() by which the attempt must end
    cancel: threading.Event = field(default_factory=threading.Event)
    # what modules did on this host in earlier runs (not in check mode), for caps per window;
    # report new ones in ActionResult.fields["actions"] as [{"kind": ..., "target": ...}]
    past_actions: tuple[PastAction, ...] = ()
    # this step's earlier outcomes on this host (not in check mode), newest first
    previous: tuple[PastOutcome, ...] = ()

    def actions_since(self, kind: str, target: str, window_s: float) -> int:
        """How many times this kind of action was taken on target within the last window."""
        since = time.time() - window_s
        return sum(1 for a in self.past_actions
                   if a.kind == kind and a.target == target and a.at >= since)

    def remaining(self) -> float | None:
        """Seconds left before the attempt's deadline (None: no deadline); raises
        `Interrupted` once the run is cancelled and `DeadlineExceeded` once time is up."""
        if self.cancel.is_set():
            raise Interrupted("interrupted")
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"timed out after {self.timeout or 0:g}s")
        return left

    def sleep(self, seconds: float) -> None:
        """Wait, but never past the deadline, and wake at once when the run is cancelled."""
        left = self.remaining()
        if self.cancel.wait(seconds if left is None else min(seconds, left)):
            raise Interrupted("interrupted")
        self.remaining()

    def sh(self, command: str) -> ActionResult:
        """Run a shell command on the host with the step's env, cwd and become, within what is
        left of the attempt's deadline."""
        res = self.connection.run(
            command, env=self.env, cwd=self.cwd, timeout=self.remaining(), become=self.become
        )
        reason = "" if res.rc == 0 else f"{command.split(maxsplit=1)[0]}: {res.reason}"
        return ActionResult(res.rc == 0 and not res.timed_out, res.rc, res.stdout, res.stderr,
                            reason=reason)


class Module(Protocol):
    name: str
    doc: str
    fields: Fields

    def run(self, call: ModuleCall) -> ActionResult: ...


def registry() -> dict[str, Module]:
    """Every built-in module by name. Module files import nothing heavy at top level."""
    from runner.modules import file, http, netlify, pm2, tcp, workflows

    modules: list[Module] = [http.HTTP(), tcp.TCP(), file.File(), pm2.PM2(),
                             workflows.Workflows(), netlify.Netlify()]
    return {m.name: m for m in modules}
