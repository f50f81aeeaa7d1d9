"""Benchmark: urs against ansible-playbook, pyinfra and a hand-written paramiko loop.

Run by hand (not in CI):  python -m pip install -e '.[bench]' && python bench/run.py
Cases (--case tools, the default): 20 steps on localhost; 20 steps on one SSH host; 10 steps on
each of 20 SSH hosts. --case warm and --case memory measure the daemon's ticks in one process
(see bench/ticks.py). Every tool runs at its fastest settings (Ansible: forks >= hosts, pipelining,
ControlPersist, no fact gathering, free strategy). Prints each tool's median wall time and
the ratios against urs. The sshd hosts are real, on 127.0.0.2+ (see tests/sshd.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ticks  # noqa: E402
from tests.sshd import Fleet, SSHHost  # noqa: E402

COMMAND = "echo step-{i} > /dev/null"


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return took


class Case:
    def __init__(self, name: str, hosts: list[SSHHost] | None, steps: int, work: Path,
                 fleet: Fleet | None, base_tree: Path | None = None) -> None:
        self.name, self.hosts, self.steps, self.work, self.fleet = name, hosts, steps, work, fleet
        self.base_tree = base_tree
        work.mkdir(parents=True, exist_ok=True)

    # ---- urs, and `base`: urs from another checkout (--base), on a store of its own
    def base(self) -> Callable[[], float]:
        if self.base_tree is None:
            raise SystemExit("--tools base needs --base OTHER_CHECKOUT")
        argv = self._urs_argv("base.db")
        env = {**os.environ, "PYTHONPATH": str(self.base_tree)}
        return lambda: timed(argv, env=env)

    def urs(self) -> Callable[[], float]:
        argv = self._urs_argv("urs.db")
        return lambda: timed(argv)

    def _urs_argv(self, store: str) -> list[str]:
        steps = "\n".join(f"  - {{name: s{i}, run: '{COMMAND.format(i=i)}'}}"
                          for i in range(self.steps))
        book = self.work / "book.yml"
        book.write_text(f"hosts: all\nconcurrency: 1\nsteps:\n{steps}\n")
        argv = [sys.executable, "-m", "runner", "run", str(book), "--store",
                str(self.work / store), "--forks", "50"]
        if self.hosts:
            inv = self.fleet.inventory(self.work / "urs.ini", self.hosts)  # type: ignore[union-attr]
            argv += ["-i", str(inv), "--known-hosts", str(self.fleet.known_hosts)]  # type: ignore[union-attr]
        return argv

    # ---- ansible
    def ansible(self) -> Callable[[], float]:
        tasks = "\n".join(f"    - shell: '{COMMAND.format(i=i)}'" for i in range(self.steps))
        play = self.work / "play.yml"
        target = "fleet" if self.hosts else "localhost"
        play.write_text(f"- hosts: {target}\n  gather_facts: false\n  strategy: free\n"
                        f"  tasks:\n{tasks}\n")
        cfg = self.work / "ansible.cfg"
        cp_dir = tempfile.mkdtemp(prefix="cp")
        known = self.fleet.known_hosts if self.fleet else "/dev/null"
        cfg.write_text(textwrap.dedent(f"""\
            [defaults]
            forks = 50
            host_key_checking = False
            interpreter_python = /usr/bin/python3
            [ssh_connection]
            pipelining = True
            ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={known}
            control_path_dir = {cp_dir}
            """))
        argv = ["ansible-playbook", str(play)]
        if self.hosts:
            inv = self.fleet.inventory(self.work / "ansible.ini", self.hosts)  # type: ignore[union-attr]
            argv += ["-i", str(inv)]
        else:
            argv += ["-i", "localhost,", "-c", "local"]
        env = {**os.environ, "ANSIBLE_CONFIG": str(cfg)}
        return lambda: timed(argv, env=env)

    # ---- pyinfra
    def pyinfra(self) -> Callable[[], float]:
        deploy = self.work / "deploy.py"
        ops = "\n".join(f"server.shell(name='s{i}', commands=['{COMMAND.format(i=i)}'])"
                        for i in range(self.steps))
        deploy.write_text(f"from pyinfra.operations import server\n{ops}\n")
        if self.hosts:
            inv = self.work / "inventory.py"
            entries = ", ".join(
                f"('{h.address}', {{'ssh_port': {h.port}, 'ssh_user': 'root', "
                f"'ssh_key': '{self.fleet.client_key}', "  # type: ignore[union-attr]
                f"'ssh_known_hosts_file': '{self.fleet.known_hosts}'}})"  # type: ignore[union-attr]
                for h in self.hosts)
            inv.write_text(f"hosts = [{entries}]\n")
            argv = ["pyinfra", str(inv), str(deploy), "-y", "--parallel", "50"]
        else:
            argv = ["pyinfra", "@local", str(deploy), "-y"]
        return lambda: timed(argv, cwd=self.work)

    # ---- the floor: what any Python tool built on urs's libraries pays for the same work.
    # It imports click, PyYAML and sqlite3 (and fabric for SSH), reads the playbook urs runs,
    # runs each command as the bare loops do and records each outcome in SQLite as it ends;
    # no validation, plan, variables, timeouts, events, lock or report.
    def floor(self) -> Callable[[], float]:
        self.urs()  # writes book.yml
        book = str(self.work / "book.yml")
        setup = textwrap.dedent(f"""\
            import sqlite3, threading, click, yaml
            steps = yaml.load(open({book!r}), Loader=yaml.CSafeLoader)["steps"]
            db = sqlite3.connect({str(self.work / "floor.db")!r}, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("CREATE TABLE IF NOT EXISTS outcomes (host, step, rc, out)")
            lock = threading.Lock()
            def record(host, step, rc, out):
                with lock:
                    db.execute("INSERT INTO outcomes VALUES (?, ?, ?, ?)", (host, step, rc, out))
            """)  # noqa: S608 - the script's own fixed SQL
        if not self.hosts:
            code = setup + textwrap.dedent("""\
                import subprocess
                for s in steps:
                    done = subprocess.run(['/bin/sh', '-c', s['run']], capture_output=True)
                    record('localhost', s['name'], done.returncode, done.stdout)
                """)
            return lambda: timed([sys.executable, "-c", code])
        return self._ssh_loop(setup + "import fabric\n", (
            "    for s in steps:\n"
            "        _, out, _ = client.exec_command(s['run'])\n"
            "        record(address, s['name'], out.channel.recv_exit_status(), out.read())\n"))

    # ---- hand-written paramiko loop: one connection per host, in parallel threads
    def paramiko(self) -> Callable[[], float]:
        if not self.hosts:
            script = "\n".join(COMMAND.format(i=i) for i in range(self.steps))
            code = ("import subprocess\n"
                    f"for c in {script.splitlines()!r}:\n"
                    "    subprocess.run(['/bin/sh', '-c', c], check=True)\n")
            return lambda: timed([sys.executable, "-c", code])
        return self._ssh_loop("", (
            f"    for i in range({self.steps}):\n"
            f"        _, out, _ = client.exec_command({COMMAND!r}.format(i=i))\n"
            "        assert out.channel.recv_exit_status() == 0\n"))

    def _ssh_loop(self, setup: str, steps: str) -> Callable[[], float]:
        """A script: one paramiko connection per host in parallel threads, each running
        `steps` (lines indented 4 spaces, using `client` and `address`)."""
        fleet = self.fleet
        assert fleet is not None and self.hosts
        hosts = [(h.address, h.port) for h in self.hosts]
        code = setup + textwrap.dedent(f"""\
            import socket, threading, paramiko
            def one(address, port):
                sock = socket.create_connection((address, port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client = paramiko.SSHClient()
                client.load_host_keys({str(fleet.known_hosts)!r})
                client.connect(address, port, username='root', sock=sock,
                               key_filename={str(fleet.client_key)!r}, look_for_keys=False)
            """) + steps + textwrap.dedent(f"""\
                client.close()
            threads = [threading.Thread(target=one, args=h) for h in {hosts!r}]
            [t.start() for t in threads]
            [t.join() for t in threads]
            """)
        return lambda: timed([sys.executable, "-c", code])


def medians(runs: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Each tool's median: the tools take turns, so a change in the machine's load while the
    case runs falls on all of them alike."""
    for run in runs.values():
        run()  # warm-up: caches, ControlPersist masters
    times: dict[str, list[float]] = {tool: [] for tool in runs}
    for _ in range(repeat):
        for tool, run in runs.items():
            times[tool].append(run())
    return {tool: statistics.median(taken) for tool, taken in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--tools", default="urs,paramiko,pyinfra,ansible")
    parser.add_argument("--case", choices=("tools", "warm", "memory", "memory-ssh"),
                        default="tools")
    parser.add_argument("--ticks", type=int, default=20, help="ticks timed (warm, memory)")
    parser.add_argument("--base", type=Path, help="another checkout: the `base` tool is its urs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the sshd hosts on the way out
    # users' installs have bytecode: compile ours too, and let every tool write its caches
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runner")], check=True)
    work = Path(tempfile.mkdtemp(prefix="urs-bench-"))
    fleet = Fleet(work / "fleet")
    try:
        if args.case == "memory":
            ticks.memory(work / "memory", args.ticks, None)
            return
        fleet.start(args.hosts)
        if args.case == "warm":
            ticks.warm(fleet, work / "warm", args.ticks)
        elif args.case == "memory-ssh":
            ticks.memory(work / "memory", args.ticks, fleet)
        else:
            compare(fleet, work, args.hosts, args.repeat, args.tools.split(","), args.base)
    finally:
        fleet.stop()


def compare(fleet: Fleet, work: Path, hosts: int, repeat: int, tools: list[str],
            base: Path | None) -> None:
    base = base.resolve() if base else None
    cases = [
        Case("20 steps, localhost", None, 20, work / "local", None, base),
        Case("20 steps, 1 SSH host", fleet.hosts[:1], 20, work / "one", fleet, base),
        Case(f"10 steps x {hosts} SSH hosts", fleet.hosts, 10, work / "many", fleet, base),
    ]
    print(f"{'case':<28}" + "".join(f"{t:>11}" for t in tools) + "   ratios (tool / urs)")
    for case in cases:
        times = medians({t: getattr(case, t)() for t in tools}, repeat)
        ratios = "  ".join(f"{t} {times[t] / times['urs']:.1f}x" for t in tools if t != "urs")
        print(f"{case.name:<28}" + "".join(f"{times[t]:>10.2f}s" for t in tools)
              + f"   {ratios}", flush=True)

if __name__ == "__main__":
    main()
