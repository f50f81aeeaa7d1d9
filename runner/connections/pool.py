"""Warm SSH connections for a long-running process (the daemon): a `Pool` keeps each SSH host's
connection open across runs, so a tick costs a few exec channels, not a handshake per host.

`pool.connector(known_hosts, policy)` is the `Host -> Connection` callable a run takes
(`pipeline.Options.connect`). For an SSH host it lends a `Lease`: the run uses it as its
connection, and its close() gives the connection back to the pool instead of closing it.

- Keyed by everything that decides the connection: address, port, user, key file, password,
  connect timeout, known_hosts file and host key policy. A host whose inventory changes gets a
  new connection; the old one ages out.
- One lease per connection at a time. When two runs (different jobs) want the same host at
  once, the second gets a second connection rather than waiting for the first run to end: a
  slow recovery must not delay another job's health check. The extra connection is closed
  once it has been idle for `idle_s` (idle ones are lent newest first, so extras age out).
- A connection found dead when lent (transport no longer active: sshd restarted, the peer
  closed or reset it) is closed and a new one made, without a round trip. Keepalive messages
  (every `keepalive_s` of silence) keep NAT and firewall state and make a peer that went away
  without a word answer with a reset. A reused connection whose command fails before it was
  sent (dropped while idle, not noticed yet) is re-made once per lease, transparently.
- A host that cannot be connected to is not tried again until its backoff has passed (doubling
  from `backoff_s` up to `max_backoff_s` with each failure in a row): meanwhile leases fail at
  once with Unreachable and the last reason. A success forgets the failures.
- `close_idle()` (the daemon calls it each tick) closes connections idle for `idle_s` or dead;
  `close()` closes every connection, lent ones included (their runs see the connection lost).
- A lease that was cancelled (Ctrl-C, a job's deadline) closes its connection when given back.
- Local hosts get a new LocalConnection each time (cheap), other kinds what `Connector` makes.
- Thread-safe: one lock guards the pool's tables; connecting and closing happen outside it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.connections import (
    SSH_KINDS,
    Become,
    CommandResult,
    Connection,
    Connector,
    NotStarted,
    SSHTarget,
    Unreachable,
    kind_of,
)

if TYPE_CHECKING:
    from runner.connections.ssh import SSHConnection
    from runner.inventory import Host

DEFAULT_IDLE_S = 300.0
DEFAULT_KEEPALIVE_S = 15.0
DEFAULT_BACKOFF_S = 10.0
# a host that came back is reached again within a minute (until then its ticks report it
# unreachable, with the last reason), and one that stays down is tried once a minute
DEFAULT_MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class PoolKey:
    """Everything that decides an SSH connection."""

    target: SSHTarget
    known_hosts: Path | None
    policy: str


@dataclass(frozen=True)
class PoolStats:
    idle: int  # open connections waiting for a lease
    lent: int  # leases not given back yet
    opened: int  # connections made since the pool started
    reused: int  # leases served by an open connection


@dataclass
class _Idle:
    conn: SSHConnection
    since: float


@dataclass
class _Failure:
    count: int  # failures in a row
    at: float  # when the last one happened (the pool's clock)
    reason: str  # the last one's reason, without the host's name


class Pool:
    def __init__(self, *, idle_s: float = DEFAULT_IDLE_S,
                 keepalive_s: float = DEFAULT_KEEPALIVE_S, backoff_s: float = DEFAULT_BACKOFF_S,
                 max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s, self.keepalive_s = idle_s, keepalive_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.clock = clock
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, list[_Idle]] = {}
        self._lent: set[Lease] = set()
        self._failures: dict[PoolKey, _Failure] = {}
        self._opened = self._reused = 0
        self._closed = False

    def connector(self, known_hosts: Path | None = None,
                  host_key_policy: str = "strict") -> Callable[[Host], Connection]:
        """The Host -> Connection callable for `pipeline.Options.connect`."""
        other = Connector(known_hosts, host_key_policy)

        def connect(host: Host) -> Connection:
            if kind_of(host) not in SSH_KINDS:
                return other(host)  # local and other kinds: what a run without a pool makes
            return self.lease(host, PoolKey(SSHTarget.of(host), known_hosts, host_key_policy))
        return connect

    def lease(self, host: Host, key: PoolKey) -> Lease:
        """An open connection to the host, reused when one is idle; Unreachable when it
        cannot be made, or failed lately and its backoff has not passed."""
        conn = self._take(key)
        if conn is not None:
            return self._lend(Lease(self, key, host, conn, reused=True))
        self._check_backoff(key, host)
        return self._lend(Lease(self, key, host, self.open(key, host), reused=False))

    def open(self, key: PoolKey, host: Host) -> SSHConnection:
        """A new connection, its failure or success remembered for the backoff."""
        from runner.connections.ssh import connect

        try:
            conn = connect(host, known_hosts=key.known_hosts, policy=key.policy,
                           keepalive=self.keepalive_s)
        except Unreachable as exc:
            with self._lock:
                last = self._failures.get(key)
                reason = str(exc).removeprefix(f"{host.name}: ")
                self._failures[key] = _Failure((last.count if last else 0) + 1, self.clock(),
                                               reason)
            raise
        with self._lock:
            self._failures.pop(key, None)
            self._opened += 1
        return conn

    def close_idle(self) -> int:
        """Close the connections idle for idle_s or found dead; how many were closed. Hosts
        not tried for idle_s (and past their backoff) have their failures forgotten."""
        now = self.clock()
        with self._lock:
            stale = self._pop_idle(lambda i: now - i.since >= self.idle_s or not i.conn.alive())
            self._failures = {k: f for k, f in self._failures.items()
                              if now - f.at < max(self.idle_s, self._wait(f))}
        _close_all(stale)
        return len(stale)

    def close(self) -> None:
        """Close every connection, lent ones included; later leases still work, their
        connections closed when given back."""
        with self._lock:
            self._closed = True
            conns = self._pop_idle(lambda i: True) + [lease.conn for lease in self._lent]
        _close_all(conns)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(sum(map(len, self._idle.values())), len(self._lent),
                             self._opened, self._reused)

    def give_back(self, lease: Lease) -> None:
        """Keep the lease's connection for the next run, or close it when it is dead (or was
        cancelled: see SSHConnection.alive), or the pool is closed."""
        conn = lease.conn
        with self._lock:
            self._lent.discard(lease)
            keep = not self._closed and conn.alive()
            if keep:
                self._idle.setdefault(lease.key, []).append(_Idle(conn, self.clock()))
        if not keep:
            conn.close()

    def _lend(self, lease: Lease) -> Lease:
        with self._lock:
            self._lent.add(lease)
            self._reused += lease.reused
        return lease

    def _take(self, key: PoolKey) -> SSHConnection | None:
        """The most recently returned live idle connection for key; dead ones are closed."""
        dead: list[SSHConnection] = []
        found = None
        with self._lock:
            idle = self._idle.get(key, [])
            while idle and found is None:
                conn = idle.pop().conn
                if conn.alive():
                    found = conn
                else:
                    dead.append(conn)
            if not idle:
                self._idle.pop(key, None)
        _close_all(dead)
        return found

    def _check_backoff(self, key: PoolKey, host: Host) -> None:
        with self._lock:
            failure = self._failures.get(key)
            if failure is None:
                return
            left = failure.at + self._wait(failure) - self.clock()
        if left > 0:
            raise Unreachable(f"{host.name}: {failure.reason} (failed {failure.count} time"
                              f"{'s' if failure.count > 1 else ''} in a row; not tried again "
                              f"for {math.ceil(left)}s)")

    def _wait(self, failure: _Failure) -> float:
        return float(min(self.backoff_s * 2 ** (failure.count - 1), self.max_backoff_s))

    def _pop_idle(self, wanted: Callable[[_Idle], bool]) -> list[SSHConnection]:
        """Remove the idle connections wanted (the lock is held) and return them."""
        popped: list[SSHConnection] = []
        for key, idle in list(self._idle.items()):
            kept: list[_Idle] = []
            for entry in idle:
                if wanted(entry):
                    popped.append(entry.conn)
                else:
                    kept.append(entry)
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]
        return popped


def _close_all(conns: list[SSHConnection]) -> None:
    for conn in conns:
        conn.close()


class Lease:
    """A pooled SSH connection lent to one host's run: a Connection whose close() gives it
    back; cancel() kills what runs on it (and the connection is then closed, not kept)."""

    is_local = False

    def __init__(self, pool: Pool, key: PoolKey, host: Host, conn: SSHConnection,
                 reused: bool) -> None:
        self.pool, self.key, self.host_ref = pool, key, host
        self.host = host.name
        self.conn = conn
        self.reused = reused  # the connection was open before this lease (it may be stale)
        self.cancelled = False
        self._lock = threading.Lock()
        self._returned = False

    def run(self, command: str, *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float | None = None, become: Become | None = None) -> CommandResult:
        conn = self.conn
        try:
            return conn.run(command, env=env, cwd=cwd, timeout=timeout, become=become)
        except NotStarted:
            fresh = self._remake(conn)
            if fresh is None:
                raise
        return fresh.run(command, env=env, cwd=cwd, timeout=timeout, become=become)

    def _remake(self, stale: SSHConnection) -> SSHConnection | None:
        """A new connection in place of a reused one that failed before its first command
        ran (dropped while idle, not noticed yet); None when this lease may not re-make."""
        with self._lock:
            if self.conn is not stale:  # another step of this run re-made it already
                return self.conn
            if not self.reused or self.cancelled or self._returned:
                return None
            self.reused = False  # once per lease
            self.conn = self.pool.open(self.key, self.host_ref)
            if self.cancelled:  # Ctrl-C came while connecting
                self.conn.cancel()
        stale.close()
        return self.conn

    def cancel(self) -> None:
        """Kill what this lease runs; nothing once it was given back (a run cancels every
        connection it opened, and this one may serve another run by now)."""
        with self._lock:  # close() waits: the connection goes back cancelled, and is closed
            if self._returned:
                return
            self.cancelled = True
            self.conn.cancel()

    def close(self) -> None:
        with self._lock:
            if self._returned:
                return
            self._returned = True
        self.pool.give_back(self)
