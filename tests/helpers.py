"""Shared test helpers: run a playbook in-process, run the `urs` command as a user would."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import load, plan
from runner.connections import Become, CommandResult, Connection
from runner.connections.local import LocalConnection
from runner.events import Bus, Event, StepFinished
from runner.execute import execute
from runner.execute.context import Cancel, RunContext
from runner.inventory import Host, Inventory, implicit
from runner.model import RunResult, StepResult
from runner.modules import registry
from runner.redact import Redactor

ROOT = Path(__file__).resolve().parent.parent


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def notify(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def steps(self) -> dict[str, StepResult]:
        return {e.result.step: e.result for e in self.events if isinstance(e, StepFinished)}


@dataclass
class Outcome:
    run: RunResult
    events: Collector

    @property
    def steps(self) -> dict[str, StepResult]:
        return self.events.steps()

    def status(self, step: str) -> str:
        return str(self.steps[step].status)


def write(tmp: Path, text: str, name: str = "book.yml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def run_book(path: Path, *, connect: Callable[[Host], Connection] | None = None,
             inventory: Inventory | None = None, extra: Mapping[str, Any] | None = None,
             check_mode: bool = False, tags: frozenset[str] = frozenset(),
             skip_tags: frozenset[str] = frozenset(), observers: list[Any] | None = None,
             redactor: Redactor | None = None, modules: dict[str, Any] | None = None,
             cancel: Cancel | None = None) -> Outcome:
    modules = {**registry(), **(modules or {})}
    book = load.load([str(path)], {k: m.fields for k, m in modules.items()}, dirs=[path.parent])
    inv = inventory or implicit()
    the_plan = plan.build(book, set(extra or {}) | {k for h in inv.hosts.values() for k in h.vars})
    collector = Collector()
    ctx = RunContext(
        run_id=uuid.uuid4().hex, plan=the_plan, inventory=inv,
        targets={b.name: tuple(inv.hosts.values()) for b in the_plan.books},
        modules=modules, bus=Bus([collector, *(observers or [])]),
        redactor=redactor or Redactor(), connect=connect or (lambda h: LocalConnection(h.name)),
        local=LocalConnection(), extra_vars=dict(extra or {}), check_mode=check_mode,
        tags=tags, skip_tags=skip_tags, cancel=cancel or Cancel(),
    )
    return Outcome(execute(ctx), collector)


@dataclass
class Scripted:
    """A scripted fake connection: the first pattern matching a command decides its result."""

    script: list[tuple[str, CommandResult]]
    host: str = "fake"
    is_local: bool = False
    calls: list[str] = field(default_factory=list)

    def run(self, command: str, *, env: Mapping[str, str] | None = None, cwd: str | None = None,
            timeout: float | None = None, become: Become | None = None) -> CommandResult:
        self.calls.append(command)
        for pattern, result in self.script:
            if re.search(pattern, command):
                return result
        raise AssertionError(f"unscripted command: {command}")

    def cancel(self) -> None:
        return None

    def close(self) -> None:
        return None


def urs(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the urs command exactly as a user would (python -m runner == urs)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout, input=stdin,
                          check=False)


def urs_with_a_bug(*args: str) -> subprocess.CompletedProcess[str]:
    """`urs ARGS` with a bug planted outside any step: the run's batches raise RuntimeError."""
    code = (
        "import sys\n"
        "import runner.execute as execute\n"
        "def boom(*args):\n"
        "    raise RuntimeError('a bug outside any step')\n"
        "execute._batches = boom\n"
        "from runner.cli import main\n"
        f"sys.argv = ['urs', *{list(args)!r}]\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)


def wait_for(predicate: Callable[[], object], deadline_s: float = 20.0) -> bool:
    """Poll until predicate is true or the deadline passes; whether it became true."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def process_gone(pid: int) -> bool:
    """The process has exited (a zombie counts as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def holding(marker: Path, seconds: int = 600) -> str:
    """A step's command that writes its process id to marker, then waits: for a test that
    kills urs mid-run. The step runs in a process group of its own, which killing urs leaves
    behind: end it with end_holding(marker)."""
    return f"echo $$ > {marker}.tmp && mv {marker}.tmp {marker}; exec sleep {seconds}"


def end_holding(marker: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.killpg(int(marker.read_text()), signal.SIGKILL)


TEST_TOOLS = Path.home() / ".cache" / "urs-test"  # where scripts/test installs npm tools


def installed(variable: str, default: Path, what: str, inside: str = "") -> Path:
    """A tool scripts/test installs for the tests: $variable, else its default place; an error
    naming it when it is not there (a missing install step is a failure, never a skip)."""
    path = Path(os.environ.get(variable) or default)
    if not (path / inside).exists():
        raise RuntimeError(f"{what} is missing at {path}: ./scripts/test installs it")
    return path
