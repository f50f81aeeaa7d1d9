"""Built-in modules: the registry and the protocol a module implements.

A module is called in one of two modes: `check` (read-only: report whether the state is as
asked) or `apply` (bring the state about, reporting `changed`). A step that names a module
directly applies it; `check:` and `recover:` call it in check and apply mode.
See docs/extending.md.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.connections import Become, Connection
from runner.fields import Fields


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

    def sh(self, command: str) -> ActionResult:
        """Run a shell command on the host with the step's env, cwd, timeout and become."""
        res = self.connection.run(
            command, env=self.env, cwd=self.cwd, timeout=self.timeout, become=self.become
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
    from runner.modules import file, http, pm2, tcp

    modules: list[Module] = [http.HTTP(), tcp.TCP(), file.File(), pm2.PM2()]
    return {m.name: m for m in modules}
