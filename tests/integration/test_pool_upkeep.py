"""The pool's upkeep against real sshd: backoff for a host that is down, idle connections
closed (extra ones first), keepalive seen by sshd, a kept connection that does not grow."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runner.connections import Unreachable
from runner.connections.pool import Lease, Pool
from runner.inventory import Host
from tests.helpers import wait_for
from tests.integration.pooltools import Clock, as_host, client_port, own_host, run
from tests.sshd import Fleet, SSHHost

host = own_host  # the fixture: a host of this module's own



def test_a_down_host_is_retried_only_after_its_backoff(fleet: Fleet, host: SSHHost,
                                                       tmp_path: Path) -> None:
    clock = Clock()
    pool = Pool(backoff_s=10, clock=clock)
    connect = pool.connector(fleet.known_hosts)
    target = as_host(fleet, host)
    client_port(run(tmp_path, target, connect))
    host.kill()
    assert wait_for(lambda: pool.close_idle() == 1)  # the dead connection, noticed
    with pytest.raises(Unreachable, match="cannot connect to"):
        connect(target)
    host.start()  # back, but the pool does not look before the backoff has passed
    clock.now += 9
    with pytest.raises(Unreachable, match=r"cannot connect to .* \(failed 1 time in a row; "
                                          r"not tried again for 1s\)"):
        connect(target)
    clock.now += 1
    outcome = run(tmp_path, target, connect)
    assert str(outcome.steps["who"].status) == "ok"
    assert pool.stats().opened == 2
    pool.close()


def test_backoff_means_no_connection_attempt_and_doubles(tmp_path: Path) -> None:
    silent = socket.socket()  # accepts TCP connections, never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.setblocking(False)
    target = Host("mute", {"ansible_host": "127.0.0.1", "ansible_port": silent.getsockname()[1],
                           "ansible_ssh_timeout": 0.2})
    clock = Clock()
    connect = Pool(backoff_s=10, clock=clock).connector()

    def attempts() -> int:
        count = 0
        while True:
            try:
                accepted, _ = silent.accept()
            except BlockingIOError:
                return count
            accepted.close()
            count += 1
    try:
        with pytest.raises(Unreachable, match="no SSH server answered"):
            connect(target)
        assert attempts() == 1
        with pytest.raises(Unreachable, match=r"no SSH server answered .*not tried again for 10s"):
            connect(target)
        assert attempts() == 0
        clock.now += 10
        with pytest.raises(Unreachable, match="no SSH server answered"):
            connect(target)
        assert attempts() == 1
        clock.now += 19  # the second failure in a row waits 20s
        with pytest.raises(Unreachable, match="failed 2 times in a row; not tried again for 1s"):
            connect(target)
        assert attempts() == 0
    finally:
        silent.close()


def test_idle_connections_are_closed(fleet: Fleet, host: SSHHost, tmp_path: Path) -> None:
    clock = Clock()
    pool = Pool(idle_s=60, clock=clock)
    connect = pool.connector(fleet.known_hosts)
    target = as_host(fleet, host)
    lease = connect(target)
    assert isinstance(lease, Lease)
    first = lease.conn
    lease.close()
    clock.now += 59
    assert pool.close_idle() == 0
    lease = connect(target)
    assert isinstance(lease, Lease) and lease.conn is first  # used again: idle time starts anew
    lease.close()
    clock.now += 59
    assert pool.close_idle() == 0
    clock.now += 1
    assert pool.close_idle() == 1
    assert not first.alive() and pool.stats().idle == 0
    lease = connect(target)
    assert isinstance(lease, Lease) and lease.conn is not first
    lease.close()
    pool.close()


def test_a_kept_connection_does_not_grow_with_each_command(
        fleet: Fleet, host: SSHHost, monkeypatch: pytest.MonkeyPatch) -> None:
    """paramiko remembers every channel id a transport opened: a connection kept for days
    would grow by each command it ran."""
    from runner.connections import ssh

    monkeypatch.setattr(ssh, "SEEN_KEPT", 4)
    pool = Pool()
    lease = pool.connector(fleet.known_hosts)(as_host(fleet, host))
    assert isinstance(lease, Lease)
    for n in range(30):
        assert lease.run(f"echo {n}").stdout == f"{n}\n"
    assert 4 <= len(lease.conn.transport.channels_seen) <= 8
    lease.close()
    pool.close()


def test_extra_connections_age_out(fleet: Fleet, host: SSHHost) -> None:
    clock = Clock()
    pool = Pool(idle_s=60, clock=clock)
    connect = pool.connector(fleet.known_hosts)
    target = as_host(fleet, host)
    older, newer = connect(target), connect(target)  # two runs at once
    assert isinstance(older, Lease) and isinstance(newer, Lease)
    older.close()
    clock.now += 10
    newer.close()
    clock.now += 10
    again = connect(target)  # the most recently given back is lent first
    assert isinstance(again, Lease) and again.conn is newer.conn
    again.close()
    clock.now += 40  # older idle for 60s, newer for 40s
    assert pool.close_idle() == 1
    assert not older.conn.alive() and newer.conn.alive()
    pool.close()


def test_keepalive_messages_reach_sshd(tmp_path: Path) -> None:
    own = Fleet(tmp_path / "own-fleet")
    try:
        (ssh,) = own.start(1, log_level="DEBUG1")
        pool = Pool(keepalive_s=0.1)
        lease = pool.connector(own.known_hosts)(as_host(own, ssh))
        log = ssh.folder / "sshd.log"
        assert wait_for(lambda: log.read_text().count("rtype keepalive@lag.net") >= 2)
        lease.close()
        pool.close()
    finally:
        own.stop()
