"""The `tcp` module and health-system's `ports` step under dash (Debian's /bin/sh): an open port
from a socket the test listens on is open, a bound port nobody listens on is closed, with each
probe tool a host may have, and a host with none is an error, never "closed"."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from runner.connections import Become, CommandResult
from runner.modules import Mode, ModuleCall
from runner.modules.tcp import TCP, ProbeUnavailable
from tests.helpers import ROOT, run_book, urs

DASH = shutil.which("dash")
BASICS = ("sed", "head", "timeout")


class DashHost:
    """A host reached like an SSH one (its commands run in a shell, not in-process) whose shell
    is dash and whose PATH holds only the given tools."""

    is_local = False
    host = "dash-host"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)

    def run(self, command: str, *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float | None = None, become: Become | None = None) -> CommandResult:
        assert DASH, "dash is missing: it is Debian's /bin/sh"
        out = subprocess.run([DASH, "-c", command], capture_output=True, text=True,
                             env={"PATH": self.path}, timeout=timeout or 60, check=False)
        return CommandResult(out.returncode, out.stdout, out.stderr)

    def cancel(self) -> None:
        return None

    def close(self) -> None:
        return None


def tools(tmp: Path, *names: str) -> Path:
    """A bin folder with `sh` (dash) and only the named tools."""
    folder = tmp / "bin"
    folder.mkdir()
    assert DASH
    (folder / "sh").symlink_to(DASH)
    for name in (*BASICS, *names):
        found = shutil.which(name)
        assert found, f"{name} is missing: ./scripts/test installs it"
        (folder / name).symlink_to(found)
    return folder


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    """(open, closed): a listening socket and a bound one that does not listen."""
    listening, bound = socket.socket(), socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    bound.bind(("127.0.0.1", 0))
    yield listening.getsockname()[1], bound.getsockname()[1]
    listening.close()
    bound.close()


def probe(host: DashHost, port: int | list[int], state: str = "open"):  # type: ignore[no-untyped-def]
    args = {"port": port, "host": "127.0.0.1", "state": state}
    return TCP().run(ModuleCall(args=args, mode=Mode.CHECK, connection=host, host=host.host,
                                vars={}, timeout=5.0))


@pytest.mark.parametrize("tool", ["python3", "bash", "nc"])
def test_each_probe_tool_under_dash(tool: str, tmp_path: Path,
                                    ports: tuple[int, int]) -> None:
    host = DashHost(tools(tmp_path, tool))
    open_port, closed_port = ports
    up = probe(host, open_port)
    assert up.ok and up.fields["open"] is True, up
    down = probe(host, closed_port)
    assert not down.ok and down.fields == {**down.fields, "open": False,
                                           "closed_ports": [closed_port]}
    assert down.reason.startswith(f"127.0.0.1:{closed_port} is closed")
    assert down.reason.endswith("expected open")
    assert probe(host, closed_port, "closed").ok
    both = probe(host, [open_port, closed_port])
    assert not both.ok and both.fields["closed_ports"] == [closed_port]
    assert f"127.0.0.1:{open_port} is open" in both.stdout


def test_a_host_without_any_probe_tool_is_an_error_not_closed(
        tmp_path: Path, ports: tuple[int, int]) -> None:
    host = DashHost(tools(tmp_path))
    with pytest.raises(ProbeUnavailable, match="none of python3, bash or nc"):
        probe(host, ports[0])


def test_bad_probe_output_is_an_error_not_closed(ports: tuple[int, int]) -> None:
    from tests.helpers import Scripted

    host = Scripted([("urs-tcp", CommandResult(2, "", "sh: 1: Syntax error"))])
    with pytest.raises(ProbeUnavailable, match="no answer for port"):
        TCP().run(ModuleCall(args={"port": ports[0], "host": "127.0.0.1", "state": "open"},
                             mode=Mode.CHECK, connection=host, host="fake", vars={}))


def test_health_system_ports_step_under_dash(tmp_path: Path, ports: tuple[int, int]) -> None:
    open_port, closed_port = ports
    host = DashHost(os.environ["PATH"])
    book = ROOT / "playbooks" / "health-system.yml"
    ok = run_book(book, connect=lambda h: host, extra={"ports": f"{open_port}"},
                  tags=frozenset({"ports"}))
    assert ok.status("ports") == "ok", ok.steps["ports"]
    bad = run_book(book, connect=lambda h: host, extra={"ports": f"{open_port} {closed_port}"},
                   tags=frozenset({"ports"}))
    assert bad.status("ports") == "failed"
    assert bad.steps["ports"].reason.startswith(f"127.0.0.1:{closed_port} is closed")


def test_health_system_ports_from_the_command_line(tmp_path: Path,
                                                   ports: tuple[int, int]) -> None:
    """Locally (steps run under /bin/sh, dash on Debian) through `urs run`."""
    open_port, closed_port = ports
    env = {"URS_STORE": str(tmp_path / "s.db")}
    for value, code in ((f"{open_port}", 0), (f'"{open_port} {closed_port}"', 1)):
        out = urs("run", "health-system", "--json", "--tags", "ports", "-e", f"ports={value}",
                  env=env)
        steps = {e["step"]: e for e in map(json.loads, out.stdout.splitlines())
                 if e["event"] == "step_finished"}
        assert out.returncode == code, out.stdout
        assert steps["ports"]["status"] == ("ok" if code == 0 else "failed")
        assert f"127.0.0.1:{open_port} is open" in steps["ports"]["stdout"]


def test_health_system_ports_over_ssh(fleet, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      ports: tuple[int, int]) -> None:
    """The probe script survives the SSH user's login shell and its quoting."""
    started = [h for h in fleet.hosts if h.process is not None]
    host = started[0] if started else fleet.start(1)[0]
    inventory = fleet.inventory(tmp_path / "inv.ini", [host])
    open_port, closed_port = ports
    out = urs("run", "health-system", "--json", "--tags", "ports", "-i", str(inventory),
              "--known-hosts", str(fleet.known_hosts), "-e", f'ports="{open_port} {closed_port}"',
              env={"URS_STORE": str(tmp_path / "s.db")})
    (step,) = [e for e in map(json.loads, out.stdout.splitlines())
               if e["event"] == "step_finished" and e["step"] == "ports"]
    assert step["host"] == host.name and step["status"] == "failed", out.stdout
    assert step["fields"]["closed_ports"] == [closed_port]
    assert f"127.0.0.1:{open_port} is open" in step["stdout"]
