"""The edge between the runner and a host: a `Connection` runs one shell command.

Two implementations, chosen per host by `ansible_connection` through `KINDS`:
`local.LocalConnection` (subprocesses on the control machine) and `ssh.SSHConnection` (one
reused SSH connection per host; paramiko and fabric are imported only for SSH hosts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from runner.inventory import Host

KILL_GRACE_S = 1.0
# once a command has exited, how long its output is still read: a process it left behind
# (`daemon &`, `setsid server`) may hold the pipes open for ever, and keeps running
LINGER_S = 0.2
MAX_OUTPUT = 8 * 1024 * 1024  # bytes of each stream kept: the tail, however much is printed
HOST_KEY_POLICIES = ("strict", "accept-new", "off")


class Tail:
    """The last `limit` bytes of a stream, however much was written."""

    def __init__(self, limit: int = MAX_OUTPUT) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        body = self.data.decode("utf-8", "replace")
        return f"[... {self.dropped} bytes not kept ...]\n{body}" if self.dropped else body


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
        """Run a shell command; on timeout kill it and everything it started. Output is read
        until the command exits (and LINGER_S after, for what it left behind) or time is up;
        only the last MAX_OUTPUT bytes of each stream are kept."""
        ...

    def cancel(self) -> None:
        """Stop every command running now (Ctrl-C)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Connector:
    """Makes each host's connection, by the kind its `ansible_connection` names."""

    known_hosts: Path | None = None
    host_key_policy: str = "strict"

    def __call__(self, host: Host) -> Connection:
        kind = "local" if host.is_local else str(host.vars.get("ansible_connection") or "ssh")
        make = KINDS.get(kind)
        if make is None:
            raise Unreachable(f"{host.name}: ansible_connection '{kind}' is not supported "
                              "(local or ssh)")
        return make(host, self)


def _local(host: Host, connector: Connector) -> Connection:
    from runner.connections.local import LocalConnection

    return LocalConnection(host.name)


def _ssh(host: Host, connector: Connector) -> Connection:
    from runner.connections.ssh import connect

    return connect(host, known_hosts=connector.known_hosts, policy=connector.host_key_policy)


# Ansible's names for each kind of connection
KINDS: dict[str, Callable[[Host, Connector], Connection]] = {
    "local": _local, "ssh": _ssh, "smart": _ssh, "paramiko": _ssh,
}
