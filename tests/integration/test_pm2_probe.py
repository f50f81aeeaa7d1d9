"""Whether the PM2 daemon is alive, read by the probe script under dash with processes the
tests make: a zombie, a pid reused by `sleep`, a process titled like the daemon with and
without a listening rpc.sock; a dead daemon never leads to a pm2 call (it would spawn one)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.modules.pm2.state import State, parse_probe, probe_script
from tests.helpers import wait_for

DASH = shutil.which("dash")
TITLE = "PM2 v7.0.4: God Daemon ({home})"
BASICS = ("cat", "sed", "cut", "tr")


class Host:
    """A PM2_HOME, a fake `pm2` that records its calls, and the processes the test started."""

    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "pm2 home"
        self.home.mkdir()
        self.calls = tmp / "calls"
        self.bin = tmp / "pm2"
        self.bin.write_text(f"#!/bin/sh\necho \"$@\" >> '{self.calls}'\necho '[]'\n")
        self.bin.chmod(0o755)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.listener: socket.socket | None = None

    def start(self, *argv: str, executable: str | None = None) -> int:
        proc = subprocess.Popen(argv, executable=executable)
        self.processes.append(proc)
        (self.home / "pm2.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    def fake_daemon(self) -> int:
        sleep = shutil.which("sleep")
        assert sleep
        return self.start(TITLE.format(home=self.home), "600", executable=sleep)

    def rpc_socket(self, listening: bool) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(self.home / "rpc.sock"))
        if listening:
            self.listener.listen()

    def probe(self, path: str | None = None) -> State:
        assert DASH, "dash is missing: it is Debian's /bin/sh"
        env = {"PATH": path} if path else None
        out = subprocess.run([DASH, "-c", probe_script(str(self.bin), str(self.home))],
                             capture_output=True, text=True, timeout=60, check=False, env=env)
        assert out.returncode == 0, out.stderr
        return parse_probe(out.stdout)

    def pm2_called(self) -> bool:
        return self.calls.exists()

    def stop(self) -> None:
        for proc in self.processes:
            proc.kill()
            proc.wait()
        if self.listener:
            self.listener.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path)
    yield made
    made.stop()


def zombie(host: Host) -> int:
    pid = host.start("true")  # never waited for: it stays a zombie, as a SIGKILLed daemon does
    stat = Path(f"/proc/{pid}/stat")
    assert wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
    return pid


def test_no_pid_file(host: Host) -> None:
    state = host.probe()
    assert not state.alive and state.problem == f"no pid in {host.home}/pm2.pid"
    assert not host.pm2_called()


def test_a_zombie_daemon_is_dead(host: Host) -> None:
    pid = zombie(host)
    host.rpc_socket(listening=False)
    state = host.probe()
    assert not state.alive and state.daemon_pid == str(pid)
    assert state.problem == f"pid {pid} is a zombie (killed, never reaped)"
    assert not host.pm2_called()


def test_a_pid_reused_by_another_process_is_dead(host: Host) -> None:
    pid = host.start("sleep", "600")
    host.rpc_socket(listening=False)
    state = host.probe()
    assert not state.alive
    assert state.problem == f"pid {pid} is not the PM2 daemon but: sleep 600"
    assert not host.pm2_called()


def test_a_daemon_without_its_socket_is_dead(host: Host) -> None:
    host.fake_daemon()
    state = host.probe()
    assert not state.alive and state.problem == f"{host.home}/rpc.sock is missing"
    host.rpc_socket(listening=False)
    state = host.probe()
    assert not state.alive and state.problem == f"{host.home}/rpc.sock accepts no connection"
    assert not host.pm2_called()


def test_a_daemon_whose_socket_accepts_is_alive(host: Host) -> None:
    pid = host.fake_daemon()
    host.rpc_socket(listening=True)
    state = host.probe()
    assert state.alive and state.daemon_pid == str(pid) and state.apps == ()
    assert host.calls.read_text() == "jlist\n"


def _path(tmp: Path, *tools: str) -> str:
    folder = tmp / "bin"
    folder.mkdir()
    assert DASH
    (folder / "sh").symlink_to(DASH)
    for name in (*BASICS, *tools):
        found = shutil.which(name)
        assert found, f"{name} is missing: ./scripts/test installs it"
        (folder / name).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("tool", ["node", "python3", "nc"])
def test_each_socket_probe_tool(tool: str, host: Host, tmp_path: Path) -> None:
    path = _path(tmp_path, tool)
    host.fake_daemon()
    host.rpc_socket(listening=False)
    assert not host.probe(path).alive
    assert host.listener
    host.listener.listen()
    assert host.probe(path).alive


def test_without_a_socket_probe_tool_the_socket_file_decides(host: Host, tmp_path: Path) -> None:
    """No node, python3 or nc: a zombie is still dead; a live process titled as the daemon
    with its rpc.sock present counts as alive."""
    path = _path(tmp_path)
    zombie(host)
    host.rpc_socket(listening=False)
    assert not host.probe(path).alive
    host.fake_daemon()
    assert host.probe(path).alive
