"""Playbooks across real sshd hosts on loopback: parallel hosts, failures of every kind,
timeouts that kill the remote process, a dropped connection, become, local, run_once,
serial batches."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import process_gone, urs, wait_for, write
from tests.sshd import Fleet, SSHHost


@pytest.fixture(scope="module")
def hosts(fleet: Fleet) -> list[SSHHost]:
    started = [h for h in fleet.hosts if h.process is not None]
    return started[:4] if len(started) >= 4 else started + fleet.start(4 - len(started))


def _run(fleet: Fleet, tmp: Path, book: str, hosts: list[SSHHost], *args: str,
         **extra: str) -> tuple[int, list[dict[str, Any]], str]:
    inventory = fleet.inventory(tmp / "inventory.ini", hosts, **extra)
    path = write(tmp, book)
    out = urs("run", str(path), "-i", str(inventory), "--known-hosts", str(fleet.known_hosts),
              "--json", *args)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    return out.returncode, events, out.stderr


def _steps(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["host"], e["step"]): e for e in events if e["event"] == "step_finished"}


def test_many_hosts_in_parallel_each_with_its_own_output(
        fleet: Fleet, hosts: list[SSHHost], tmp_path: Path, store: Path) -> None:
    many = hosts + fleet.start(8)
    meet = tmp_path / "meet"  # the test hosts share this machine's files: a barrier
    meet.mkdir()
    code, events, err = _run(fleet, tmp_path, f"""
hosts: fleet
steps:
  - name: meet
    run: 'touch {meet}/$URS_TEST_HOST; i=0; while [ "$(ls {meet} | wc -l)" -lt {len(many)} ]
          && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ls {meet} | wc -l'
  - name: who
    needs: meet
    run: 'echo "$URS_TEST_HOST $(id -un) {{{{ inventory_hostname }}}} {{{{ greeting }}}}"'
""", many, greeting="hi")
    assert code == 0, err
    steps = _steps(events)
    # every host waited until all had started: they ran at once
    assert [steps[(h.name, "meet")]["stdout"] for h in many] == [f"{len(many)}\n"] * 12
    for host in many:
        assert steps[(host.name, "who")]["stdout"] == f"{host.name} root {host.name} hi\n"


def test_one_failing_host_does_not_stop_the_others(
        fleet: Fleet, hosts: list[SSHHost], tmp_path: Path, store: Path) -> None:
    code, events, _ = _run(fleet, tmp_path, f"""
hosts: fleet
steps:
  - {{name: gate, run: 'test "$URS_TEST_HOST" != {hosts[1].name}'}}
  - {{name: after, needs: gate, run: 'true'}}
""", hosts)
    steps = _steps(events)
    assert code == 1
    assert steps[(hosts[1].name, "gate")]["status"] == "failed"
    assert steps[(hosts[1].name, "after")]["status"] == "skipped"
    assert steps[(hosts[0].name, "after")]["status"] == "ok"


def test_down_host_wrong_key_and_host_key_mismatch_are_unreachable(
        fleet: Fleet, hosts: list[SSHHost], tmp_path: Path, store: Path) -> None:
    good, other = hosts[0], hosts[1]
    down_port = 1  # nothing listens on port 1
    wrong_key = tmp_path / "wrong_key"
    from tests.sshd import keygen

    keygen(wrong_key)
    known = tmp_path / "known_hosts"
    # other's address:port with good's host key: a mismatch
    known.write_text(fleet.known_hosts.read_text() + f"[{hosts[2].address}]:{hosts[2].port} "
                     f"{good.host_key}\n")
    known.write_text("\n".join(line for line in known.read_text().splitlines()
                               if not (line.startswith(f"[{hosts[2].address}]:")
                                       and hosts[2].host_key in line)) + "\n")
    inventory = tmp_path / "inv.ini"
    inventory.write_text(f"""[fleet]
{good.inventory_line()}
down ansible_host=127.0.0.1 ansible_port={down_port}
badkey {other.inventory_line().split(' ', 1)[1]} ansible_ssh_private_key_file={wrong_key}
mismatch {hosts[2].inventory_line().split(' ', 1)[1]}
[fleet:vars]
ansible_user=root
ansible_ssh_private_key_file={fleet.client_key}
""")
    book = write(tmp_path, "hosts: fleet\nsteps: [{name: ping, run: 'true'}]\n")
    out = urs("run", str(book), "-i", str(inventory), "--known-hosts", str(known), "--json")
    assert out.returncode == 4
    events = [json.loads(line) for line in out.stdout.splitlines()]
    hosts_done = {e["host"]: e for e in events if e["event"] == "host_finished"}
    assert hosts_done[good.name]["status"] == "ok"
    assert hosts_done["down"]["status"] == "unreachable"
    assert "cannot connect to 127.0.0.1:1" in hosts_done["down"]["reason"]
    assert "authentication failed" in hosts_done["badkey"]["reason"]
    assert "host key mismatch" in hosts_done["mismatch"]["reason"]
    steps = _steps(events)
    assert steps[("down", "ping")]["status"] == "unreachable"


def test_unknown_host_key_refused_by_default_accepted_with_accept_new(
        fleet: Fleet, hosts: list[SSHHost], tmp_path: Path, store: Path) -> None:
    known = tmp_path / "empty_known_hosts"
    known.write_text("")
    inventory = fleet.inventory(tmp_path / "inv.ini", hosts[:1])
    book = write(tmp_path, "hosts: fleet\nsteps: [{name: ping, run: 'true'}]\n")
    strict = urs("run", str(book), "-i", str(inventory), "--known-hosts", str(known))
    assert strict.returncode == 4 and "unknown host key" in strict.stdout
    accept = urs("run", str(book), "-i", str(inventory), "--known-hosts", str(known),
                 "--host-key-policy", "accept-new")
    assert accept.returncode == 0, accept.stdout
    assert hosts[0].host_key in known.read_text()
    again = urs("run", str(book), "-i", str(inventory), "--known-hosts", str(known))
    assert again.returncode == 0


def test_timeout_kills_the_remote_process(fleet: Fleet, hosts: list[SSHHost], tmp_path: Path,
                                          store: Path) -> None:
    pids = tmp_path / "remote-pids"
    code, events, _ = _run(fleet, tmp_path, f"""
hosts: fleet
steps:
  - name: stuck
    timeout: 1s
    run: "trap '' TERM; sleep 300 & echo $! >> {pids}; wait"
""", hosts[:1])
    assert code == 1
    (result,) = _steps(events).values()
    assert result["reason"].startswith("timed out after 1s")
    pid = int(pids.read_text().split()[0])
    assert wait_for(lambda: process_gone(pid)), "the remote sleep survived the timeout"


def test_sshd_killed_mid_run_fails_that_host_only(tmp_path: Path, store: Path) -> None:
    fleet = Fleet(tmp_path / "own-fleet")
    try:
        victim, survivor = fleet.start(2)
        started = tmp_path / "started"
        book = write(tmp_path, f"""
hosts: fleet
steps:
  - {{name: long, run: 'touch {started}.$URS_TEST_HOST; sleep 5'}}
  - {{name: after, needs: long, run: 'true'}}
""")
        inventory = fleet.inventory(tmp_path / "inv.ini")
        import subprocess
        import sys

        proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book), "-i",
                                 str(inventory), "--known-hosts", str(fleet.known_hosts),
                                 "--json"], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "URS_STORE": str(store)})
        assert wait_for(lambda: Path(f"{started}.{victim.name}").exists())
        victim.kill()
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 4
        steps = _steps([json.loads(line) for line in out.splitlines()])
        assert steps[(victim.name, "long")]["status"] == "failed"
        assert "connection lost" in steps[(victim.name, "long")]["reason"]
        assert steps[(victim.name, "after")]["status"] == "unreachable"
        assert steps[(survivor.name, "after")]["status"] == "ok"
    finally:
        fleet.stop()


def test_become_local_and_run_once(fleet: Fleet, hosts: list[SSHHost], tmp_path: Path,
                                   store: Path) -> None:
    counter = tmp_path / "once"
    code, events, err = _run(fleet, tmp_path, f"""
hosts: fleet
steps:
  - {{name: as-nobody, become: true, become_user: nobody, run: 'id -un'}}
  - {{name: on-control, local: true, run: 'echo "$URS_TEST_HOST-{{{{ inventory_hostname }}}}"'}}
  - {{name: once, run_once: true, local: true, run: 'echo x >> {counter}; echo done'}}
""", hosts)
    assert code == 0, err
    steps = _steps(events)
    for host in hosts:
        assert steps[(host.name, "as-nobody")]["stdout"] == "nobody\n"
        # on the control machine: no URS_TEST_HOST there, the host's vars still apply
        assert steps[(host.name, "on-control")]["stdout"] == f"-{host.name}\n"
        assert steps[(host.name, "once")]["stdout"] == "done\n"
    assert counter.read_text() == "x\n"


def test_serial_batches_and_max_fail_percentage(fleet: Fleet, hosts: list[SSHHost],
                                                tmp_path: Path, store: Path) -> None:
    code, events, _ = _run(fleet, tmp_path, """
hosts: fleet
serial: 2
steps: [{name: nap, run: 'sleep 0.3'}]
""", hosts)
    assert code == 0
    naps = sorted(_steps(events).values(), key=lambda s: s["started_at"])
    first, second = naps[:2], naps[2:]
    assert min(s["started_at"] for s in second) >= max(s["ended_at"] for s in first)
    code, events, _ = _run(fleet, tmp_path, f"""
hosts: fleet
serial: 1
max_fail_percentage: 0
steps: [{{name: gate, run: 'test "$URS_TEST_HOST" != {hosts[0].name}'}}]
""", hosts)
    assert code == 1
    assert [e["host"] for e in events if e["event"] == "step_finished"] == [hosts[0].name]


def test_ctrl_c_kills_the_remote_commands(fleet: Fleet, hosts: list[SSHHost], tmp_path: Path,
                                          store: Path) -> None:
    import signal
    import subprocess
    import sys

    pids = tmp_path / "remote-pids"
    book = write(tmp_path, f"""
hosts: fleet
steps: [{{name: long, run: 'echo $$ >> {pids}; sleep 300'}}]
""")
    inventory = fleet.inventory(tmp_path / "inv.ini", hosts[:2])
    proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book), "-i",
                             str(inventory), "--known-hosts", str(fleet.known_hosts)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "URS_STORE": str(store)})
    assert wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    for pid in map(int, pids.read_text().split()):
        assert wait_for(lambda pid=pid: process_gone(pid)), f"remote shell {pid} survived Ctrl-C"


def test_a_server_that_never_answers_times_out(fleet: Fleet, tmp_path: Path,
                                              store: Path) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection, never says a word
    try:
        inventory = tmp_path / "inv.ini"
        inventory.write_text(f"[fleet]\nmute ansible_host=127.0.0.1 "
                             f"ansible_port={silent.getsockname()[1]} connect_timeout=1\n")
        book = write(tmp_path, "hosts: fleet\nsteps: [{name: ping, run: 'true'}]\n")
        out = urs("run", str(book), "-i", str(inventory), "--known-hosts",
                  str(fleet.known_hosts), timeout=60)
        assert out.returncode == 4
        assert "mute: no SSH server answered at 127.0.0.1:" in out.stdout
        assert "within 1s" in out.stdout
    finally:
        silent.close()


def test_unsupported_connection_kind_is_unreachable(tmp_path: Path, store: Path) -> None:
    inventory = tmp_path / "inv.ini"
    inventory.write_text("[fleet]\nbox ansible_connection=docker\n")
    book = write(tmp_path, "hosts: fleet\nsteps: [{name: ping, run: 'true'}]\n")
    out = urs("run", str(book), "-i", str(inventory))
    assert out.returncode == 4
    assert "box: ansible_connection 'docker' is not supported (local or ssh)" in out.stdout


def test_a_process_left_behind_never_holds_a_remote_step(
        fleet: Fleet, hosts: list[SSHHost], tmp_path: Path, store: Path) -> None:
    pids = tmp_path / "pids"
    try:
        code, events, err = _run(fleet, tmp_path, f"""
hosts: fleet
steps:
  - {{name: detached, run: "setsid sleep 600 & echo $! >> {pids}; echo started"}}
  - {{name: background, run: "sleep 600 & echo $! >> {pids}; echo started"}}
  - {{name: hangs, run: "setsid sleep 600 & echo $! >> {pids}; sleep 600", timeout: 1s}}
""", hosts[:1])
        steps = _steps(events)
        host = hosts[0].name
        assert code == 1, err  # only `hangs` failed
        assert steps[(host, "detached")]["status"] == "ok", err
        assert steps[(host, "detached")]["stdout"] == "started\n"
        assert steps[(host, "background")]["status"] == "ok"
        assert steps[(host, "hangs")]["reason"] == "timed out after 1s; its processes were killed"
    finally:
        for pid in pids.read_text().split() if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)


def test_the_wait_for_an_exit_status_after_the_output_ended_is_no_busy_loop(
        fleet: Fleet, hosts: list[SSHHost], monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that closes its output and goes on for a while: the channel's pipe stays
    readable after EOF, so polling it would spin until the exit status comes. The connection
    waits for the exit status instead: a handful of looks, not thousands."""
    from runner.connections import ssh
    from tests.integration.pooltools import as_host

    looks = 0
    finished = ssh._finished

    def counted(*args: Any) -> bool:
        nonlocal looks
        looks += 1
        return finished(*args)

    monkeypatch.setattr(ssh, "_finished", counted)
    conn = ssh.connect(as_host(fleet, hosts[0]), known_hosts=fleet.known_hosts)
    try:
        result = conn.run("echo done; exec >&- 2>&-; sleep 0.5; exit 3")
    finally:
        conn.close()
    assert (result.rc, result.stdout) == (3, "done\n")
    assert looks < 20, looks
