"""The edge between the runner and a host: a `Connection` runs one shell command.

Two implementations: `runner.local.LocalConnection` (subprocesses on the control machine) and
`runner.ssh.SSHConnection` (one reused SSH connection per host, imported only for SSH hosts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

KILL_GRACE_S = 1.0
HOST_KEY_POLICIES = ("strict", "accept-new", "off")


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def reason(self) -> str:
        return "timed out" if self.timed_out else f"exit code {self.rc}"


@dataclass(frozen=True)
class Become:
    user: str = "root"


class Unreachable(Exception):
    """The host cannot be reached (refused, timed out, authentication, host key, dropped)."""


class Connection(Protocol):
    host: str
    is_local: bool

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        become: Become | None = None,
    ) -> CommandResult:
        """Run a shell command; on timeout kill it and everything it started."""
        ...

    def cancel(self) -> None:
        """Stop every command running now (Ctrl-C)."""
        ...

    def close(self) -> None: ...
