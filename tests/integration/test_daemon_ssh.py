"""The daemon's SSH hosts against real sshd: host keys checked as urs.yml's `ssh` section says
(strict with the fleet's known_hosts, a changed key refused, accept-new writing the file, bad
values refused naming the line), and an sshd restarted between ticks: the ticks while it is
down are `unreachable`, the next one after it is back reconnects."""

from __future__ import annotations

import signal
import time

import pytest

from tests.helpers import urs
from tests.integration.daemontools import Project
from tests.sshd import Fleet, SSHHost, keygen

WHO = "hosts: fleet\nsteps: [{name: who, run: 'echo $SSH_CONNECTION'}]\n"
JOB = "  who: {playbooks: [who], inventory: hosts.ini, interval: 0.2s}\n"


@pytest.fixture(scope="module")
def host(fleet: Fleet) -> SSHHost:
    """A host of its own: a test here stops and starts it."""
    (own,) = fleet.start(1)
    return own


@pytest.fixture
def fleet_project(project: Project, fleet: Fleet, host: SSHHost) -> Project:
    """A project whose job `who` runs on the host; HOME has no known_hosts of its own."""
    project.book("who", WHO)
    fleet.inventory(project.root / "hosts.ini", [host])
    (project.root / "home").mkdir()
    return project


def once(project: Project) -> tuple[int, str]:
    """`urs daemon --once` in the project: its exit code and the host's recorded reason."""
    out = urs("daemon", "--once", cwd=project.root, env={"HOME": str(project.root / "home")})
    assert "Traceback" not in out.stderr, out.stderr
    reasons = project.rows("SELECT reason FROM host_outcomes ORDER BY rowid DESC LIMIT 1")
    return out.returncode, str(reasons[0][0]) if reasons else ""


def test_known_hosts_of_urs_yml_is_what_strict_checks(fleet_project: Project, fleet: Fleet,
                                                      host: SSHHost) -> None:
    fleet_project.config(JOB)
    code, reason = once(fleet_project)  # ~/.ssh/known_hosts (empty HOME): the key is unknown
    assert code == 4 and "unknown host key" in reason and "ssh.host_key_policy" in reason
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {fleet.known_hosts}\n")
    assert once(fleet_project) == (0, "")
    other = keygen(fleet_project.root / "other_key").split()
    wrong = fleet_project.root / "wrong_known_hosts"
    wrong.write_text(f"[{host.address}]:{host.port} {other[0]} {other[1]}\n")
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {wrong}\n  host_key_policy: strict\n")
    code, reason = once(fleet_project)
    assert code == 4
    assert f"host key mismatch for {host.address}:{host.port}" in reason
    assert str(wrong) in reason and "refusing to connect" in reason


def test_accept_new_writes_the_relative_known_hosts_that_strict_then_reads(
        fleet_project: Project, host: SSHHost) -> None:
    fleet_project.config(JOB, "ssh: {known_hosts: keys/known_hosts, "
                              "host_key_policy: accept-new}\n")
    assert once(fleet_project) == (0, "")
    written = (fleet_project.root / "keys" / "known_hosts").read_text()
    assert written.strip() == host.known_hosts_line()
    fleet_project.config(JOB, "ssh: {known_hosts: keys/known_hosts}\n")  # strict by default
    assert once(fleet_project) == (0, "")
    shown = [line.split() for line in urs("config", cwd=fleet_project.root).stdout.splitlines()]
    assert ["urs.yml:2", "ssh.known_hosts=keys/known_hosts"] in shown
    assert ["default", "ssh.host_key_policy=strict"] in shown


def test_urs_run_reads_the_ssh_settings_and_its_options_win(fleet_project: Project,
                                                            fleet: Fleet) -> None:
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {fleet.known_hosts}\n")
    home = {"HOME": str(fleet_project.root / "home")}
    run = ["run", "who", "-i", "hosts.ini", "--store", str(fleet_project.store)]
    assert urs(*run, cwd=fleet_project.root, env=home).returncode == 0
    empty = fleet_project.root / "empty_known_hosts"
    empty.write_text("")
    refused = urs(*run, "--known-hosts", str(empty), cwd=fleet_project.root, env=home)
    assert refused.returncode == 4 and "unknown host key" in refused.stdout
    off = urs(*run, "--known-hosts", str(empty), cwd=fleet_project.root,
              env={**home, "URS_SSH_HOST_KEY_POLICY": "off"})
    assert off.returncode == 0, off.stdout


def test_a_reload_changes_the_known_hosts_of_jobs_it_keeps(fleet_project: Project,
                                                          fleet: Fleet) -> None:
    empty = fleet_project.root / "empty_known_hosts"
    empty.write_text("")
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {empty}\n")
    proc = fleet_project.start()
    fleet_project.wait(lambda: fleet_project.runs("who", "unreachable") >= 1)
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {fleet.known_hosts}\n")  # the job is alike
    proc.send_signal(signal.SIGHUP)
    fleet_project.wait(lambda: fleet_project.runs("who") >= 1)
    fleet_project.stop(proc)


def test_a_bad_ssh_setting_is_refused_naming_its_line(project: Project) -> None:
    project.config(JOB, "ssh:\n  host_key_policy: lenient\n  known_host: x\n")
    out = urs("daemon", cwd=project.root)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "error: urs.yml:3: ssh.host_key_policy: expected one of 'strict', 'accept-new', 'off', "
        "found 'lenient'",
        "error: urs.yml:4: ssh.known_host: expected a known key, found 'known_host' "
        "(did you mean 'known_hosts'?)"]
    project.config(JOB)
    out = urs("daemon", "--once", cwd=project.root, env={"URS_SSH_HOST_KEY_POLICY": "yes"})
    assert out.returncode == 2
    assert out.stderr == ("error: env URS_SSH_HOST_KEY_POLICY: ssh.host_key_policy: expected "
                          "one of 'strict', 'accept-new', 'off', found 'yes'\n")


def test_sshd_restarted_between_ticks_the_daemon_reconnects(fleet_project: Project,
                                                            fleet: Fleet, host: SSHHost) -> None:
    fleet_project.config(JOB, f"ssh:\n  known_hosts: {fleet.known_hosts}\n")
    proc = fleet_project.start()
    fleet_project.wait(lambda: fleet_project.runs("who") >= 2)
    assert len(client_ports(fleet_project)) == 1  # one warm connection served every tick
    host.kill()  # the listener and the daemon's connection, as a crash would
    try:
        fleet_project.wait(lambda: fleet_project.runs("who", "unreachable") >= 2)
    finally:
        host.start()  # the same port and host key
    back = time.time()
    ok = fleet_project.runs("who")
    fleet_project.wait(lambda: fleet_project.runs("who") > ok)
    assert proc.poll() is None  # the connection killed under it was no crash
    down = unreachable(fleet_project, 0.0)
    assert any(f"cannot connect to {host.address}:{host.port}" in r for r in down), down
    # once sshd is back, the first tick that connects at all gets through; the ticks before
    # it were within the pool's backoff and said so, without trying
    assert all("not tried again for" in r for r in unreachable(fleet_project, back))
    log = fleet_project.stop(proc)
    assert "crashed" not in log


def unreachable(project: Project, since: float) -> list[str]:
    """The reasons of the unreachable ticks begun since then."""
    return [str(reason) for (reason,) in project.rows(
        "SELECT h.reason FROM host_outcomes h JOIN runs r ON r.id = h.run_id"
        " WHERE h.status = 'unreachable' AND r.started_at > ?", since)]


def client_ports(project: Project) -> set[int]:
    """The client ports sshd saw for the passing ticks (SSH_CONNECTION's second word)."""
    rows = project.rows("SELECT stdout_tail FROM step_outcomes WHERE status = 'ok'")
    return {int(str(out).split()[1]) for (out,) in rows}
