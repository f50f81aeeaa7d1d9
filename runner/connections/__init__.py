"""The edge between the runner and a host: a `Connection` runs one shell command.

Two implementations, chosen per host by `ansible_connection` through `KINDS`:
`local.LocalConnection` (subprocesses on the control machine) and `ssh.SSHConnection` (one
reused SSH connection per host; paramiko and fabric are imported only for SSH hosts).
`Connector` makes a new connection per host and run; `pool.Pool` keeps SSH connections open
across runs (the daemon's ticks).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


class NotStarted(Unreachable):
    """The connection failed before the command was sent: running it again elsewhere is safe."""


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


DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom an SSH host is reached, from its inventory variables."""

    address: str
    port: int
    user: str
    key_file: str | None
    password: str | None = field(repr=False)
    timeout: float

    @classmethod
    def of(cls, host: Host) -> SSHTarget:
        v = host.vars
        key = v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file")
        password = v.get("ansible_password") or v.get("ansible_ssh_pass")
        return cls(
            address=str(v.get("ansible_host") or host.name),
            port=int(v.get("ansible_port") or 22),
            user=str(v.get("ansible_user") or getpass.getuser()),
            key_file=str(Path(str(key)).expanduser()) if key else None,
            password=str(password) if password else None,
            timeout=float(v.get("ansible_ssh_timeout") or v.get("connect_timeout")
                          or DEFAULT_CONNECT_TIMEOUT),
        )


def kind_of(host: Host) -> str:
    """The host's kind of connection, a key of KINDS; Unreachable for one urs cannot make."""
    kind = "local" if host.is_local else str(host.vars.get("ansible_connection") or "ssh")
    if kind not in KINDS:
        raise Unreachable(f"{host.name}: ansible_connection '{kind}' is not supported "
                          "(local or ssh)")
    return kind


@dataclass(frozen=True)
class Connector:
    """Makes each host's connection, by the kind its `ansible_connection` names."""

    known_hosts: Path | None = None
    host_key_policy: str = "strict"

    def __call__(self, host: Host) -> Connection:
        return KINDS[kind_of(host)](host, self)


def _local(host: Host, connector: Connector) -> Connection:
    from runner.connections.local import LocalConnection

    return LocalConnection(host.name)


def _ssh(host: Host, connector: Connector) -> Connection:
    from runner.connections.ssh import connect

    return connect(host, known_hosts=connector.known_hosts, policy=connector.host_key_policy)


SSH_KINDS = ("ssh", "smart", "paramiko")  # Ansible's names for an SSH connection
KINDS: dict[str, Callable[[Host, Connector], Connection]] = {
    "local": _local, **dict.fromkeys(SSH_KINDS, _ssh),
}
