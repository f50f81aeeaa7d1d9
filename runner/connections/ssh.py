"""SSH hosts: one Fabric connection per host, opened once, reused by every step, closed at
the end. Imported only when a host needs SSH (paramiko and fabric cost ~0.3 s to import).

The socket is opened here with TCP_NODELAY (without it each command on a reused paramiko
connection waits ~48 ms for delayed ACKs); commands go straight to the paramiko transport,
one exec channel each, without invoke's 10 ms polling. Each command prints its process
group id first (sshd makes the session shell a group leader), so a timeout or Ctrl-C can
kill the remote command and everything it started.
"""

from __future__ import annotations

import select
import shlex
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config
from fabric import Connection as FabricConnection

from runner.connections import (
    KILL_GRACE_S,
    LINGER_S,
    Become,
    CommandResult,
    NotStarted,
    SSHTarget,
    Tail,
    Unreachable,
    hostkeys,
)
from runner.inventory import Host

_POLL_S = 1.0
# paramiko remembers the id of every channel a transport ever opened (to tell a late message
# for a closed channel from a bogus one): on a connection kept open for days that grows by a
# command's worth each time. The newest SEEN_KEPT are kept, once there are twice as many.
SEEN_KEPT = 128


def connect(host: Host, *, known_hosts: Path | None = None, policy: str = "strict",
            keepalive: float = 0.0) -> SSHConnection:
    """Open the host's SSH connection; Unreachable with the reason when that fails.
    keepalive: seconds of silence after which a keepalive message is sent (0: never)."""
    t = SSHTarget.of(host)
    sock = _socket(host.name, t.address, t.port, t.timeout)
    fab = FabricConnection(
        t.address, user=t.user, port=t.port, connect_timeout=max(1, round(t.timeout)),
        config=Config(lazy=True), connect_kwargs=_auth(t, sock),
    )
    keys = hostkeys.use(fab.client, known_hosts, policy)
    try:
        fab.open()
    except paramiko.BadHostKeyException as exc:
        sock.close()
        raise Unreachable(f"{host.name}: "
                          f"{hostkeys.mismatch(exc, f'{t.address}:{t.port}', keys)}") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        sock.close()
        raise Unreachable(f"{host.name}: {_explain(exc, t, keys)}") from None
    conn = SSHConnection(host.name, fab)
    if keepalive > 0:
        conn.transport.set_keepalive(keepalive)  # paramiko compares seconds: a float works
    return conn


def _socket(name: str, address: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        raise Unreachable(f"{name}: connecting to {address}:{port} timed out after "
                          f"{timeout:g}s") from None
    except OSError as exc:
        raise Unreachable(f"{name}: cannot connect to {address}:{port}: "
                          f"{exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _auth(t: SSHTarget, sock: socket.socket) -> dict[str, Any]:
    # a server that accepts the connection but never speaks is as unreachable as a silent one
    kwargs: dict[str, Any] = {"sock": sock, "banner_timeout": t.timeout,
                              "auth_timeout": t.timeout}
    if t.key_file:
        kwargs["key_filename"] = [t.key_file]
        kwargs["look_for_keys"] = False
    if t.password:
        kwargs["password"] = t.password
    return kwargs


def _explain(exc: BaseException, t: SSHTarget, known_hosts: Path) -> str:
    text = str(exc) or type(exc).__name__
    where = f"{t.address}:{t.port}"
    if "protocol banner" in text or text == "No existing session":
        return f"no SSH server answered at {where} within {t.timeout:g}s"
    if isinstance(exc, paramiko.AuthenticationException):
        return f"authentication failed for {where}: {text}"
    if "not found in known_hosts" in text:
        return hostkeys.unknown(where, known_hosts)
    return f"SSH to {where} failed: {text}"


class SSHConnection:
    is_local = False

    def __init__(self, host: str, fab: FabricConnection) -> None:
        self.host = host
        self.fab = fab
        self.transport: paramiko.Transport = fab.client.get_transport()
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        become: Become | None = None,
    ) -> CommandResult:
        if self._cancelled:
            return CommandResult(130, "", "interrupted")
        try:
            channel = self.transport.open_session(timeout=30)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NotStarted(f"{self.host}: {exc or type(exc).__name__}") from None
        try:
            channel.exec_command(wrap(command, env, cwd, become))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            channel.close()
            raise Unreachable(f"{self.host}: {exc or type(exc).__name__}") from None
        return self._collect(channel, timeout, become)

    def alive(self) -> bool:
        """Whether the connection can still run commands (no round trip: the transport's
        reader thread notices a closed or reset connection; keepalive a silent one)."""
        return not self._cancelled and self.transport.is_active()

    def _collect(self, channel: paramiko.Channel, timeout: float | None,
                 become: Become | None) -> CommandResult:
        out, err = Tail(), Tail()
        deadline = time.monotonic() + timeout if timeout else None
        group: int | None = None
        exited: float | None = None
        try:
            while not _finished(channel, out, err):
                now = time.monotonic()
                if group is None:
                    group = self._group_of(out.data)
                if deadline is not None and now >= deadline:
                    self._kill(group, become)
                    return CommandResult(124, _strip_marker(out), err.text(), timed_out=True)
                if exited is None and channel.exit_status_ready():
                    exited = now  # what it left behind may hold the output open for ever
                if exited is not None and now - exited >= LINGER_S:
                    break
                if not self.transport.is_active():
                    raise Unreachable(f"{self.host}: connection lost")
                wait = _POLL_S if exited is None else LINGER_S / 4
                if deadline is not None:
                    wait = min(wait, deadline - now)
                _wait(channel, max(wait, 0.0))
            return CommandResult(channel.recv_exit_status(), _strip_marker(out), err.text())
        finally:
            channel.close()
            if group is not None:
                with self._lock:
                    self._groups.discard(group)
            self._forget_old_channels()

    def _forget_old_channels(self) -> None:
        seen: dict[int, bool] = self.transport.channels_seen
        if len(seen) <= 2 * SEEN_KEPT:
            return
        with self.transport.lock:  # paramiko adds to it under this lock
            for chanid in list(seen)[:-SEEN_KEPT]:  # oldest first: ids in the order opened
                del seen[chanid]

    def _group_of(self, out: bytearray) -> int | None:
        group = marker_group(out)
        if group is None:
            return None
        with self._lock:
            self._groups.add(group)
        return group

    def _kill(self, group: int | None, become: Become | None) -> None:
        """TERM the remote process group, KILL what is left after the grace period."""
        if group is None or not self.transport.is_active():
            return
        sudo = "sudo -n " if become is not None else ""
        tries = round(KILL_GRACE_S / 0.1)
        script = (f"{sudo}kill -TERM -- -{group} 2>/dev/null; i=0; "
                  f"while {sudo}kill -0 -- -{group} 2>/dev/null && [ $i -lt {tries} ]; "
                  f"do sleep 0.1; i=$((i+1)); done; {sudo}kill -KILL -- -{group} 2>/dev/null; true")
        try:
            channel = self.transport.open_session(timeout=10)
            channel.exec_command(script)
            channel.status_event.wait(KILL_GRACE_S + 10)  # a peer that stopped answering
            channel.close()
        except (paramiko.SSHException, OSError, EOFError):
            pass

    def cancel(self) -> None:
        self._cancelled = True
        with self._lock:
            groups = list(self._groups)
        for group in groups:
            self._kill(group, None)

    def close(self) -> None:
        self.fab.close()


def _wait(channel: paramiko.Channel, seconds: float) -> None:
    """Until output arrives, the output ends, the exit status arrives, or seconds pass. Once
    the output has ended the channel's pipe stays readable, so select would return at once:
    what is left to wait for then is the exit status (no busy loop between the two)."""
    if channel.eof_received and not channel.recv_ready() and not channel.recv_stderr_ready():
        channel.status_event.wait(seconds)
    else:
        select.select([channel], [], [], seconds)


def _finished(channel: paramiko.Channel, out: Tail, err: Tail) -> bool:
    """Drain what is ready; True once the command has exited and its output is read."""
    while channel.recv_ready():
        out.add(channel.recv(65536))
    while channel.recv_stderr_ready():
        err.add(channel.recv_stderr(65536))
    drained = not channel.recv_ready() and not channel.recv_stderr_ready()
    return bool(channel.exit_status_ready() and drained and channel.eof_received)


def marker_group(out: bytes | bytearray) -> int | None:
    """The process group the wrapper printed first, or None (not yet, or a login shell's
    start-up files printed something first: then there is no group to kill)."""
    line, found, _ = bytes(out).partition(b"\n")
    if not found or not line.startswith(b"URS:") or not line[4:].isdigit():
        return None
    return int(line[4:])


def _strip_marker(out: Tail) -> str:
    text = out.text()
    first, _, rest = text.partition("\n")
    return rest if first.startswith("URS:") else text


def wrap(command: str, env: Mapping[str, str] | None, cwd: str | None,
         become: Become | None) -> str:
    """The remote command line: group id marker, cwd, env, sudo, then the step's shell."""
    parts = ["printf 'URS:%s\\n' \"$$\";"]
    if cwd:
        parts.append(f"cd {shlex.quote(cwd)} &&")
    parts.append("exec")  # the step's shell replaces the login shell: one process less
    if become is not None:
        parts.append(f"sudo -n -H -u {shlex.quote(become.user)} --")
    if env:
        parts.append("env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()))
    parts.append(f"/bin/sh -c {shlex.quote(command)}")
    return " ".join(parts)
