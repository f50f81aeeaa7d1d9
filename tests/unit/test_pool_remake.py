"""A reused pooled connection that turns out dead when its first command is sent (dropped
while idle, not noticed yet) is re-made once, transparently; nothing else is retried."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runner.connections import CommandResult, NotStarted, SSHTarget, Unreachable
from runner.connections.pool import Lease, Pool, PoolKey
from runner.inventory import Host

HOST = Host("web", {"ansible_host": "127.0.0.9"})
KEY = PoolKey(SSHTarget.of(HOST), None, "strict")


class Fake:
    """An SSH connection that looks alive; its first `stale` commands fail before starting."""

    def __init__(self, stale: int = 0, gate: threading.Barrier | None = None) -> None:
        self.stale, self.gate = stale, gate
        self.commands: list[str] = []
        self.closed = False
        self.lock = threading.Lock()

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        if self.gate is not None:
            self.gate.wait(10)
        with self.lock:
            if self.stale:
                self.stale -= 1
                raise NotStarted("web: connection reset")
            self.commands.append(command)
        return CommandResult(0, "", "")

    def alive(self) -> bool:
        return not self.closed

    def cancel(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class FakePool(Pool):
    def __init__(self, *conns: Fake) -> None:
        super().__init__()
        self.fresh = list(conns)

    def open(self, key: PoolKey, host: Host) -> Any:
        if not self.fresh:
            raise Unreachable("web: cannot connect")
        return self.fresh.pop(0)


def reused_lease(pool: FakePool) -> Lease:
    pool.lease(HOST, KEY).close()
    return pool.lease(HOST, KEY)


def test_a_stale_reused_connection_is_re_made_once() -> None:
    stale, fresh = Fake(stale=1), Fake()
    pool = FakePool(stale, fresh)
    lease = reused_lease(pool)
    assert lease.run("uptime").rc == 0
    assert fresh.commands == ["uptime"] and stale.closed and lease.conn is fresh
    lease.close()
    assert pool.lease(HOST, KEY).conn is fresh


def test_a_new_connection_is_not_re_made() -> None:
    pool = FakePool(Fake(stale=1), Fake())
    lease = pool.lease(HOST, KEY)
    with pytest.raises(NotStarted):
        lease.run("uptime")


def test_re_made_at_most_once_per_lease() -> None:
    pool = FakePool(Fake(stale=1), Fake(stale=1), Fake())
    lease = reused_lease(pool)
    with pytest.raises(NotStarted):
        lease.run("uptime")
    assert len(pool.fresh) == 1


def test_a_command_lost_mid_way_is_not_sent_again() -> None:
    class Lost(Fake):
        def run(self, command: str, **kwargs: Any) -> CommandResult:
            raise Unreachable("web: connection lost")
    pool = FakePool(Lost(), Fake())
    lease = reused_lease(pool)
    with pytest.raises(Unreachable, match="connection lost"):
        lease.run("uptime")
    assert len(pool.fresh) == 1


def test_steps_running_at_once_re_make_one_connection() -> None:
    stale, fresh = Fake(stale=2, gate=threading.Barrier(2)), Fake()
    pool = FakePool(stale, fresh)
    lease = reused_lease(pool)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(lease.run("id").rc))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert codes == [0, 0] and fresh.commands == ["id", "id"] and pool.fresh == []
