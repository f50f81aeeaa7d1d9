"""Execute stage: hosts in parallel (bounded by forks, in `serial` batches), and on each host
the plan's steps as soon as what they need has ended, bounded by the playbook's concurrency.

Execution emits events and returns a RunResult; it never prints.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from runner.connection import Become, Connection, Unreachable
from runner.events import Bus, HostFinished, RunFinished, RunStarted, StepFinished, StepStarted
from runner.inventory import Host, Inventory
from runner.model import HostResult, Playbook, RunResult, Status, StepResult
from runner.modules import Module
from runner.plan import Key, Node, Plan
from runner.redact import Redactor, secret_values
from runner.step import StepCall
from runner.step import execute as execute_step
from runner.templating import TemplateFailure, render


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
    cancel: threading.Event = field(default_factory=threading.Event)

    def hosts(self) -> list[Host]:
        wanted = {h.name for hosts in self.targets.values() for h in hosts}
        return [h for name, h in self.inventory.hosts.items() if name in wanted]


class _Once:
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
class _RunState:
    once: _Once = field(default_factory=_Once)
    connections: list[Connection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, conn: Connection) -> None:
        with self.lock:
            self.connections.append(conn)

    def cancel_all(self) -> None:
        with self.lock:
            for conn in self.connections:
                conn.cancel()


def execute(ctx: RunContext) -> RunResult:
    hosts = ctx.hosts()
    ctx.bus.emit(RunStarted(
        ctx.run_id, ctx.plan.root.name, tuple(b.name for b in ctx.plan.books),
        tuple(h.name for h in hosts), len(ctx.plan.nodes), ctx.check_mode, time.time(),
        ",".join(ctx.inventory.sources), tuple(n.label for n in ctx.plan.nodes.values())))
    state = _RunState()
    results: list[HostResult] = []
    interrupted = False
    try:
        for batch in _batches(ctx.plan.root, hosts):
            results.extend(_run_batch(ctx, state, batch))
            if _too_many_failed(ctx.plan.root, results):
                break
    except KeyboardInterrupt:
        interrupted = True
    run = RunResult(ctx.run_id, tuple(results), interrupted=interrupted)
    ctx.bus.emit(RunFinished(run, time.time()))
    return run


def _batches(root: Playbook, hosts: list[Host]) -> Iterator[list[Host]]:
    size = root.serial or len(hosts) or 1
    for start in range(0, len(hosts), size):
        yield hosts[start:start + size]


def _too_many_failed(root: Playbook, results: list[HostResult]) -> bool:
    if root.max_fail_percentage is None or not results:
        return False
    failed = sum(1 for r in results if r.status in {Status.FAILED, Status.UNREACHABLE})
    return 100.0 * failed / len(results) > root.max_fail_percentage


def _run_batch(ctx: RunContext, state: _RunState, batch: list[Host]) -> list[HostResult]:
    pool = ThreadPoolExecutor(max_workers=max(1, min(ctx.forks, len(batch))),
                              thread_name_prefix="host")
    futures = [pool.submit(HostRun(ctx, state, host).run) for host in batch]
    try:
        wait(futures)
    except KeyboardInterrupt:
        ctx.cancel.set()
        state.cancel_all()
        pool.shutdown(wait=True)
        results = [f.result() for f in futures]
        for result in results:
            ctx.bus.emit(HostFinished(result))
        raise
    pool.shutdown(wait=True)
    return [f.result() for f in futures]


class HostRun:
    """The plan's steps on one host, each started as soon as its needs have ended."""

    def __init__(self, ctx: RunContext, state: _RunState, host: Host) -> None:
        self.ctx, self.state, self.host = ctx, state, host
        names = {b.name for b, hosts in _books_for(ctx) if host in hosts}
        self.nodes = [n for n in ctx.plan.nodes.values() if n.book.name in names]
        self.results: dict[Key, StepResult] = {}
        self.steps_vars: dict[str, dict[str, Any]] = {name: {} for name in names}
        self.contexts: dict[str, dict[str, Any]] = {}
        self.lost = ""  # why the connection was lost mid-run

    def run(self) -> HostResult:
        try:
            conn = self.ctx.connect(self.host)
        except Unreachable as exc:
            reason = self.ctx.redactor.text(str(exc))
            for node in self.nodes:
                self._finish(node, self._skip(node, Status.UNREACHABLE, reason))
            return self._done(reason)
        self.state.opened(conn)
        try:
            self._schedule(conn)
        finally:
            conn.close()
        return self._done("")

    def _done(self, unreachable: str) -> HostResult:
        ordered = [self.results[n.key] for n in self.nodes if n.key in self.results]
        result = HostResult(self.host.name, tuple(ordered), unreachable)
        if not self.ctx.cancel.is_set():
            self.ctx.bus.emit(HostFinished(result))
        return result

    def _schedule(self, conn: Connection) -> None:
        pending = {n.key: n for n in self.nodes}
        running: dict[Future[StepResult], Node] = {}
        limit = max(1, self.ctx.plan.root.concurrency)
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="step") as pool:
            while pending or running:
                while self._start_ready(pending, running, pool, conn, limit):
                    pass
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(running.pop(future), future.result())

    def _start_ready(self, pending: dict[Key, Node], running: dict[Future[StepResult], Node],
                     pool: ThreadPoolExecutor, conn: Connection, limit: int) -> bool:
        for key, node in list(pending.items()):
            needs = self.ctx.plan.needs(key)
            if any(n.key not in self.results for n in needs):
                continue
            blocked = self._blocked(node, needs)
            if blocked is not None:
                del pending[key]
                self._finish(node, blocked)
                return True
            if len(running) < limit:
                del pending[key]
                running[pool.submit(self._run_step, node, conn)] = node
                return True
        return False

    def _blocked(self, node: Node, needs: list[Node]) -> StepResult | None:
        """A skipped or unreachable result when the step must not run, else None."""
        if self.ctx.cancel.is_set():
            return self._skip(node, Status.SKIPPED, "interrupted")
        if self.lost:
            return self._skip(node, Status.UNREACHABLE, self.lost)
        tags = node.step.tags
        if (self.ctx.tags and not tags & self.ctx.tags) or tags & self.ctx.skip_tags:
            return self._skip(node, Status.SKIPPED, "excluded by tags", skip="tags")
        for need in needs:
            if self.results[need.key].blocks_dependents:
                status = self.results[need.key].status
                return self._skip(node, Status.SKIPPED, f"needs {need.step.name}, which {status}"
                                  if status is not Status.SKIPPED else
                                  f"needs {need.step.name}, which was skipped", skip="needs")
        return None

    def _skip(self, node: Node, status: Status, reason: str, skip: str = "") -> StepResult:
        now = time.time()
        return StepResult(node.key[0] or node.book.name, self.host.name, node.step.name, status,
                          reason=reason, started_at=now, ended_at=now,
                          fields={"skip": skip} if skip else {})

    def _run_step(self, node: Node, conn: Connection) -> StepResult:
        self.ctx.bus.emit(StepStarted(node.book.name, self.host.name, node.step.name))
        if node.step.run_once:
            result, owner = self.state.once.run(node.key, lambda: self._call(node, conn))
            if owner:
                return result
            return replace(result, host=self.host.name,
                           reason=f"run once, on {result.host}" + (f": {result.reason}"
                                                                   if result.reason else ""))
        return self._call(node, conn)

    def _call(self, node: Node, conn: Connection) -> StepResult:
        step = node.step
        try:
            context = self._context(node.book)
        except TemplateFailure as exc:
            return replace(self._skip(node, Status.FAILED, f"vars: {exc}"), attempts=1)
        call = StepCall(
            playbook=node.book.name, host=self.host.name, step=step,
            connection=self.ctx.local if step.local else conn,
            context=context, modules=self.ctx.modules, check_mode=self.ctx.check_mode,
            cancel=self.ctx.cancel, become=self._become(node),
        )
        try:
            return execute_step(call)
        except Unreachable as exc:
            self.lost = f"connection lost: {exc}"
            return replace(self._skip(node, Status.FAILED, self.lost), attempts=1)

    def _become(self, node: Node) -> Become | None:
        wanted = node.step.become
        if wanted is None:
            wanted = bool(self.host.vars.get("ansible_become", False))
        if not wanted:
            return None
        user = node.step.become_user or self.host.vars.get("ansible_become_user") or "root"
        return Become(str(user))

    def _context(self, book: Playbook) -> dict[str, Any]:
        """Template variables for a playbook's steps on this host (steps results live)."""
        if book.name not in self.contexts:
            self.contexts[book.name] = build_context(self.ctx, self.host, book,
                                                     self.steps_vars[book.name])
        return self.contexts[book.name]

    def _finish(self, node: Node, result: StepResult) -> None:
        self.results[node.key] = result
        scope = self.steps_vars.setdefault(node.book.name, {})
        scope[node.step.name] = scope[node.step.name.replace("-", "_")] = result.as_vars()
        shown = self.ctx.redactor.result(result, hide_all=node.step.no_log)
        self.ctx.bus.emit(StepFinished(shown, node.label))


def _books_for(ctx: RunContext) -> list[tuple[Playbook, tuple[Host, ...]]]:
    return [(b, ctx.targets.get(b.name, ())) for b in ctx.plan.books]


def build_context(ctx: RunContext, host: Host, book: Playbook,
                  steps: Mapping[str, Any]) -> dict[str, Any]:
    """Inventory vars < playbook vars < secrets < -e, with Ansible's magic variables."""
    inv = ctx.inventory
    context: dict[str, Any] = {
        **host.vars, "env": dict(os.environ), "steps": steps,
        "inventory_hostname": host.name, "inventory_hostname_short": host.name.split(".")[0],
        "group_names": sorted(host.groups), "playbook_name": book.name,
        "groups": {g: inv.group_members(g) for g in inv.groups},
        "hostvars": {h.name: h.vars for h in inv.hosts.values()},
        "check_mode": ctx.check_mode, **ctx.extra_vars,
    }
    for source in (book.vars, book.secrets):
        for name, value in source.items():
            if name not in ctx.extra_vars:
                context[name] = render(value, context)
    ctx.redactor.add(str(context[name]) for name in book.secrets)
    ctx.redactor.add(secret_values(context))
    return context
