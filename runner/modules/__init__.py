"""Built-in modules: the registry and the protocol a module implements.

A module is called in one of two modes: `check` (read-only: report whether the state is as
asked) or `apply` (bring the state about, reporting `changed`). A step that names a module
directly applies it; `check:` and `recover:` call it in check and apply mode.
See docs/extending.md.
"""

from __future__ import annotations

import enum
import importlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
    # masks a value (a token the module read) wherever the run writes text, as `secrets:` are
    secret: Callable[[str], None] = field(default=lambda value: None)

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


# every built-in module by name: the module file and class that implement it
BUILTIN = {"http": ("runner.modules.http", "HTTP"), "tcp": ("runner.modules.tcp", "TCP"),
           "file": ("runner.modules.file", "File"), "pm2": ("runner.modules.pm2", "PM2"),
           "workflows": ("runner.modules.workflows", "Workflows"),
           "netlify": ("runner.modules.netlify", "Netlify")}


class Registry(Mapping[str, Module]):
    """The built-in modules by name, each imported when first looked up: a run imports the
    modules its steps use, not all of them."""

    def __init__(self) -> None:
        self._made: dict[str, Module] = {}

    def __getitem__(self, name: str) -> Module:
        if name not in self._made:
            where, cls = BUILTIN[name]
            self._made[name] = getattr(importlib.import_module(where), cls)()
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(BUILTIN)

    def __len__(self) -> int:
        return len(BUILTIN)


class FieldsOf(Mapping[str, Fields]):
    """Each module's argument fields (what the loader checks a step against), looked up the
    same lazy way."""

    def __init__(self, modules: Mapping[str, Module]) -> None:
        self.modules = modules

    def __getitem__(self, name: str) -> Fields:
        return self.modules[name].fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)


def registry() -> Registry:
    """Every built-in module by name. Module files import nothing heavy at top level."""
    return Registry()
