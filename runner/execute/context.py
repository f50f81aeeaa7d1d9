"""What one run shares across hosts and steps: the run context (read-only) and the run
state (run_once results, open connections)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from runner.connections import Connection
from runner.events import Bus
from runner.inventory import Host, Inventory
from runner.model import PastAction, PastOutcome, StepResult
from runner.modules import Module
from runner.plan import Key, Plan
from runner.redact import Redactor

DEFAULT_TIMEOUT_S = 300.0  # each action of a step, unless the step, playbook or run says


class Cancel(threading.Event):
    """Set when the run must stop (Ctrl-C, SIGTERM, its deadline, a daemon shutting down),
    with the reason; whoever holds it can stop the run, and what was registered with
    `on_stop` (killing the running commands) happens then."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_stop(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            stopped = self.is_set()
        if stopped:
            callback()

    def stop(self, reason: str) -> None:
        with self._lock:
            if not self.is_set():
                self.reason = reason
            self.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()


@dataclass(frozen=True)
class RunContext:
    run_id: str
    plan: Plan
    inventory: Inventory
    targets: Mapping[str, tuple[Host, ...]]  # playbook name -> the hosts it runs on
    modules: Mapping[str, Module]
    bus: Bus
    redactor: Redactor
    connect: Callable[[Host], Connection]
    local: Connection
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    check_mode: bool = False
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    forks: int = 20
    timeout: float = DEFAULT_TIMEOUT_S  # a step's timeout when neither it nor its playbook sets one
    max_runtime: float | None = None  # seconds the whole run may take
    job: str = ""  # the daemon's job this run is for
    # steps whose recovery the flap guard withholds, by (playbook, host, step), with the reason
    quarantined: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    check_reason: str = ""  # why check_mode is on, when it is
    past_actions: Mapping[str, tuple[PastAction, ...]] = field(default_factory=dict)  # by host
    # each step's earlier outcomes, newest first, by (playbook, host, step)
    previous: Mapping[tuple[str, str, str], tuple[PastOutcome, ...]] = \
        field(default_factory=dict)
    cancel: Cancel = field(default_factory=Cancel)

    def hosts(self) -> list[Host]:
        wanted = {h.name for hosts in self.targets.values() for h in hosts}
        return [h for name, h in self.inventory.hosts.items() if name in wanted]


class Once:
    """Results of run_once steps: the first host to reach one runs it, the others wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Key, Future[StepResult]] = {}

    def run(self, key: Key, work: Callable[[], StepResult]) -> tuple[StepResult, bool]:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(work())
            except BaseException as exc:
                future.set_exception(exc)
                raise
        return future.result(), owner


@dataclass
class RunState:
    once: Once = field(default_factory=Once)
    connections: list[Connection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, conn: Connection) -> None:
        with self.lock:
            self.connections.append(conn)

    def cancel_all(self) -> None:
        with self.lock:
            for conn in self.connections:
                conn.cancel()
