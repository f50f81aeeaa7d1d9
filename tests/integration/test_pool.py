"""The connection pool against real sshd: a connection kept across runs (also through the
pipeline), re-made after sshd restarts, concurrent runs on one host, cancel, close, and what
decides a connection."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from runner.connections import Connection, Connector, Unreachable
from runner.connections.local import LocalConnection
from runner.connections.pool import Lease, Pool
from runner.inventory import Host
from tests.helpers import Outcome, process_gone, wait_for, write
from tests.integration.pooltools import WHO, as_host, client_port, own_host, run
from tests.sshd import Fleet, SSHHost

host = own_host  # the fixture: a host of this module's own



def test_one_connection_serves_consecutive_runs(fleet: Fleet, host: SSHHost,
                                                tmp_path: Path) -> None:
    target = as_host(fleet, host)
    cold = Connector(fleet.known_hosts)
    # without the pool each run has a connection of its own
    assert client_port(run(tmp_path, target, cold)) != client_port(run(tmp_path, target, cold))
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    ports = {client_port(run(tmp_path, target, connect)) for _ in range(3)}
    assert len(ports) == 1
    stats = pool.stats()
    assert (stats.opened, stats.reused, stats.idle, stats.lent) == (1, 2, 1, 0)
    pool.close()
    assert pool.stats().idle == 0


def test_pipeline_runs_share_the_connection(fleet: Fleet, host: SSHHost, tmp_path: Path) -> None:
    """As the daemon runs its jobs: prepare once, run each tick with the pool's connector."""
    from runner import pipeline

    book = write(tmp_path, "hosts: fleet\n" + WHO)
    inventory = fleet.inventory(tmp_path / "inventory.ini", [host])
    loaded = pipeline.prepare([str(book)], [str(inventory)], [], None)
    pool = Pool()
    ports = set()
    for tick in range(3):
        result = pipeline.run(loaded, pipeline.Options(
            run_id=f"tick{tick}", store=tmp_path / "outcomes.db",
            connect=pool.connector(fleet.known_hosts)))
        (step,) = result.hosts[0].steps
        assert result.exit_code == 0, step.reason
        ports.add(int(step.stdout.split()[1]))
    assert len(ports) == 1 and pool.stats().opened == 1
    pool.close()


def test_sshd_restarted_between_runs_the_next_run_reconnects(fleet: Fleet, host: SSHHost,
                                                             tmp_path: Path) -> None:
    target = as_host(fleet, host)
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    lease = connect(target)
    assert isinstance(lease, Lease)
    first = lease.conn
    lease.close()
    host.restart()
    assert wait_for(lambda: not first.alive())  # the transport saw the connection end
    lease = connect(target)
    assert isinstance(lease, Lease)
    assert lease.conn is not first and not lease.reused  # not lent dead, then re-made
    lease.close()
    assert str(run(tmp_path, target, connect).steps["who"].status) == "ok"
    assert pool.stats().opened == 2
    pool.close()


def test_two_runs_on_one_host_at_once_get_two_connections(fleet: Fleet, host: SSHHost,
                                                          tmp_path: Path) -> None:
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    target = as_host(fleet, host)
    meet = tmp_path / "meet"
    meet.mkdir()
    book = f"""steps:
  - name: who
    run: 'echo $SSH_CONNECTION; touch {meet}/$$; i=0;
          while [ "$(ls {meet} | wc -l)" -lt 2 ] && [ $i -lt 1200 ];
          do sleep 0.05; i=$((i+1)); done'
"""
    outcomes: list[Outcome] = []
    threads = [threading.Thread(target=lambda d=d: outcomes.append(
        run(tmp_path / d, target, connect, book))) for d in ("a", "b")]
    for d, thread in zip(("a", "b"), threads, strict=True):
        (tmp_path / d).mkdir()
        thread.start()
    for thread in threads:
        thread.join(60)
    ports = {client_port(o) for o in outcomes}
    assert len(outcomes) == 2 and len(ports) == 2  # both held a connection at the same time
    assert pool.stats().idle == 2
    assert client_port(run(tmp_path, target, connect)) in ports
    pool.close()


def test_many_threads_leasing_one_host(fleet: Fleet, host: SSHHost) -> None:
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    target = as_host(fleet, host)
    codes: list[int] = []

    def worker() -> None:
        for _ in range(10):
            lease = connect(target)
            codes.append(lease.run("echo ok").rc)
            lease.close()
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stats = pool.stats()
    assert codes == [0] * 60
    assert 1 <= stats.opened <= 6 and stats.lent == 0 and stats.idle == stats.opened
    assert stats.opened + stats.reused == 60
    pool.close()


def test_cancel_kills_the_lease_s_command_and_its_connection_is_not_kept(
        fleet: Fleet, host: SSHHost, tmp_path: Path) -> None:
    pool = Pool()
    lease = pool.connector(fleet.known_hosts)(as_host(fleet, host))
    assert isinstance(lease, Lease)
    pid_file = tmp_path / "pid"
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(
        lease.run(f"echo $$ > {pid_file}; exec sleep 300").rc))
    thread.start()
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
    lease.cancel()
    thread.join(30)
    assert done and done[0] != 0
    assert wait_for(lambda: process_gone(int(pid_file.read_text())))
    lease.close()
    assert pool.stats().idle == 0 and not lease.conn.alive()
    pool.close()


def test_cancel_after_the_lease_was_given_back_touches_nothing(fleet: Fleet,
                                                               host: SSHHost) -> None:
    """A cancelled run cancels every connection it opened, given back or not."""
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    done = connect(as_host(fleet, host))
    assert isinstance(done, Lease)
    done.close()
    other = connect(as_host(fleet, host))  # another run's lease of the same connection
    assert isinstance(other, Lease) and other.conn is done.conn
    done.cancel()
    assert other.run("echo still").stdout == "still\n"
    other.close()
    assert pool.stats().idle == 1
    pool.close()


def test_close_closes_lent_connections_too(fleet: Fleet, host: SSHHost) -> None:
    pool = Pool()
    connect = pool.connector(fleet.known_hosts)
    lent = connect(as_host(fleet, host))
    idle = connect(as_host(fleet, host))
    idle.close()
    assert isinstance(lent, Lease) and isinstance(idle, Lease)
    pool.close()
    assert not lent.conn.alive() and not idle.conn.alive()
    lent.close()  # given back after the pool closed: nothing kept
    late = connect(as_host(fleet, host))
    assert late.run("true").rc == 0
    late.close()
    assert pool.stats().idle == 0


def test_what_decides_the_connection(fleet: Fleet, host: SSHHost, tmp_path: Path) -> None:
    pool = Pool()
    target = as_host(fleet, host)
    copy = tmp_path / "known_hosts"
    copy.write_text(fleet.known_hosts.read_text())
    connectors = [pool.connector(fleet.known_hosts), pool.connector(copy),
                  pool.connector(fleet.known_hosts, "accept-new")]
    hosts = [target, as_host(fleet, host, ansible_ssh_timeout=5)]
    ports = set()
    for connect in connectors:
        for each in hosts:
            ports.add(client_port(run(tmp_path, each, connect)))
    assert len(ports) == 6 and pool.stats().opened == 6
    # another inventory name for the same address, port, user and key: the same connection
    alias = Host("alias", dict(target.vars))
    assert client_port(run(tmp_path, alias, connectors[0])) in ports
    assert pool.stats().opened == 6
    pool.close()


def test_local_hosts_and_unsupported_kinds(tmp_path: Path) -> None:
    pool = Pool()
    connect = pool.connector()
    conn: Connection = connect(Host("here", {"ansible_connection": "local"}))
    assert isinstance(conn, LocalConnection)
    assert conn.run("echo here").stdout == "here\n"
    with pytest.raises(Unreachable, match="'docker' is not supported"):
        connect(Host("box", {"ansible_connection": "docker"}))
    assert pool.stats().opened == 0


def test_a_pool_of_local_hosts_never_imports_ssh() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom runner.connections.pool import Pool\n"
            "from runner.inventory import Host\n"
            "conn = Pool().connector()(Host('here', {'ansible_connection': 'local'}))\n"
            "assert conn.run('true').rc == 0\n"
            "print(sorted(m for m in ('paramiko', 'fabric') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"
