"""Real OpenSSH sshd processes on loopback addresses 127.0.0.2, .3, ... for the SSH tests.

Each host gets a port picked free at run time, its own host key and a neutral session
environment (its own HOME through SetEnv, so root's shell start-up files never run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import wait_for

SSHD = "/usr/sbin/sshd"


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else \
        Path(f"{path}.pub").read_text().strip()


@dataclass
class SSHHost:
    name: str
    address: str
    port: int
    folder: Path
    host_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def inventory_line(self, **extra: str) -> str:
        words = [self.name, f"ansible_host={self.address}", f"ansible_port={self.port}"]
        words += [f"{k}={v}" for k, v in extra.items()]
        return " ".join(words)

    def known_hosts_line(self) -> str:
        return f"[{self.address}]:{self.port} {self.host_key}"

    def launch(self) -> None:
        """Start this host's sshd from its config (written by Fleet)."""
        log = (self.folder / "sshd.log").open("ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.folder / "sshd_config")],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()

    def start(self) -> None:
        """Start this host's sshd (again) and wait until it answers."""
        self.launch()
        _wait_ready(self)

    def restart(self) -> None:
        """Kill sshd and every connection it serves, then start it again on the same address,
        port and host key."""
        self.kill()
        self.start()

    def kill(self) -> None:
        """Kill the listener and every connection it serves, as a crash would."""
        if self.process is not None:
            for pid in [self.process.pid, *_descendants(self.process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


def _descendants(root: int) -> list[int]:
    """Every process below root (sshd puts each connection in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Fleet:
    """A set of sshd hosts sharing one client key; stops them all at the end."""

    def __init__(self, folder: Path) -> None:
        if not Path(SSHD).exists():
            raise RuntimeError("sshd is missing: ./scripts/test installs openssh-server")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.client_key = folder / "id_client"
        self.authorized = keygen(self.client_key)
        self.known_hosts = folder / "known_hosts"
        self.hosts: list[SSHHost] = []
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder

    def start(self, count: int, env: dict[str, str] | None = None,
              log_level: str = "ERROR") -> list[SSHHost]:
        """Start count more hosts; env is added to their sessions' environment (SetEnv);
        sshd's log (LogLevel log_level) goes to each host's folder, sshd.log."""
        started = [self._start_one(len(self.hosts), env or {}, log_level) for _ in range(count)]
        self.known_hosts.write_text("".join(h.known_hosts_line() + "\n" for h in self.hosts))
        for host in started:
            _wait_ready(host)
        return started

    def _start_one(self, index: int, env: dict[str, str], log_level: str) -> SSHHost:
        address = f"127.0.0.{2 + index}"
        folder = self.folder / f"host{index}"
        (folder / "home").mkdir(parents=True, exist_ok=True)
        host_key = keygen(folder / "host_key")
        (folder / "authorized_keys").write_text(self.authorized + "\n")
        host = SSHHost(f"node{index + 1}", address, free_port(address), folder, _key_part(host_key))
        config = folder / "sshd_config"
        config.write_text(_config(host, env, log_level))
        host.launch()
        self.hosts.append(host)
        return host

    def inventory(self, path: Path, hosts: list[SSHHost] | None = None, **extra: str) -> Path:
        lines = ["[fleet]"]
        lines += [h.inventory_line(**extra) for h in (hosts or self.hosts)]
        lines += ["[fleet:vars]", f"ansible_ssh_private_key_file={self.client_key}",
                  "ansible_user=root"]
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        for host in self.hosts:
            if host.process is not None:
                host.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _key_part(pub: str) -> str:
    kind, data, *_ = pub.split()
    return f"{kind} {data}"


def _config(host: SSHHost, env: dict[str, str], log_level: str) -> str:
    f = host.folder
    extra = "".join(f" {k}={v}" for k, v in env.items())
    return "\n".join([
        f"ListenAddress {host.address}:{host.port}",
        f"HostKey {f / 'host_key'}",
        f"PidFile {f / 'sshd.pid'}",
        f"AuthorizedKeysFile {f / 'authorized_keys'}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "MaxSessions 100",
        "MaxStartups 200",
        f"LogLevel {log_level}",
        f"SetEnv HOME={host.home} URS_TEST_HOST={host.name} BASH_ENV= ENV={extra}",
        "",
    ])


def _answers(host: SSHHost) -> bool:
    """sshd greets with its banner; an sshd that exited is an error, not a wait."""
    if host.process is not None and host.process.poll() is not None:
        log = (host.folder / "sshd.log").read_text(errors="replace")
        raise RuntimeError(f"sshd for {host.name} exited: {log}")
    try:
        with socket.create_connection((host.address, host.port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _wait_ready(host: SSHHost, deadline_s: float = 20.0) -> None:
    if not wait_for(lambda: _answers(host), deadline_s):
        raise RuntimeError(f"sshd for {host.name} not ready in {deadline_s}s")
