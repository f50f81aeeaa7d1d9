"""One host's run: the plan's steps, each started as soon as what it needs has ended,
bounded by the playbook's concurrency; dependents of a failed step are skipped with the reason."""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from itertools import islice
from typing import Any

from runner.connections import Become, Connection, Unreachable
from runner.errors import current_traceback
from runner.events import HostFinished, StepFinished, StepRetrying, StepStarted
from runner.execute.context import RunContext, RunState
from runner.execute.step import StepCall
from runner.execute.step import execute as execute_step
from runner.inventory import Host
from runner.model import HostResult, Playbook, Status, StepResult
from runner.plan import Key, Node
from runner.redact import secret_values
from runner.templating import TemplateFailure
from runner.templating.variables import resolve


class HostRun:
    """The plan's steps on one host, each started as soon as its needs have ended."""

    def __init__(self, ctx: RunContext, state: RunState, host: Host) -> None:
        self.ctx, self.state, self.host = ctx, state, host
        names = {book for book, hosts in ctx.targets.items()
                 if any(h.name == host.name for h in hosts)}
        self.nodes = [n for n in ctx.plan.nodes.values() if n.book.name in names]
        self.results: dict[Key, StepResult] = {}
        self.steps_vars: dict[str, dict[str, Any]] = {name: {} for name in names}
        self.contexts: dict[str, dict[str, Any]] = {}
        self.lost = ""  # why the connection was lost mid-run
        self._ready: Ready | None = None

    def run(self) -> HostResult:
        try:
            conn = self.ctx.connect(self.host)
        except Unreachable as exc:
            reason = self.ctx.redactor.text(str(exc))
            for node in self.nodes:
                self._finish(node, self._skip(node, Status.UNREACHABLE, reason))
            return self._done(reason)
        except Exception as exc:  # noqa: BLE001 - e.g. an ansible_port that is no number
            reason = self.ctx.redactor.text(f"cannot connect: {type(exc).__name__}: {exc}")
            for node in self.nodes:
                self._finish(node, replace(self._skip(node, Status.ERROR, reason), attempts=1))
            return self._done("")
        self.state.opened(conn)
        if self.ctx.cancel.is_set():  # Ctrl-C came while this host was connecting
            conn.cancel()
        try:
            self._schedule(conn)
        finally:
            conn.close()
        return self._done("")

    def _done(self, unreachable: str) -> HostResult:
        ordered = [self.results[n.key] for n in self.nodes if n.key in self.results]
        result = HostResult(self.host.name, tuple(ordered), unreachable)
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
                if not running and pending:  # a plan is acyclic: this is a bug, not input
                    raise RuntimeError(f"steps that can never start: {sorted(pending)}")
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(running.pop(future), future.result())

    def _start_ready(self, pending: dict[Key, Node], running: dict[Future[StepResult], Node],
                     pool: ThreadPoolExecutor, conn: Connection, limit: int) -> bool:
        """Start (or skip) the first ready step in file order; whether one was. Linear over a
        run: steps become ready as their last need ends (runner.execute.host.Ready)."""
        if self._ready is None:
            self._ready = Ready(self.nodes, self.ctx.plan.needs)
        self._ready.ended(self.results)
        key = self._ready.first()
        if key is None:
            return False
        node = pending[key]
        blocked = self._blocked(node, self.ctx.plan.needs(key))
        if blocked is None and len(running) >= limit:
            return False
        self._ready.take()
        del pending[key]
        if blocked is not None:
            self._finish(node, blocked)
        else:
            running[pool.submit(self._run_step, node, conn)] = node
        return True

    def _blocked(self, node: Node, needs: list[Node]) -> StepResult | None:
        """A skipped or unreachable result when the step must not run, else None."""
        if self.ctx.cancel.is_set():
            return self._skip(node, Status.SKIPPED,
                              f"not started: the run was stopped ({self.ctx.cancel.reason})",
                              skip="interrupted")
        if self.lost:
            return self._skip(node, Status.UNREACHABLE, self.lost)
        tags = node.step.tags
        if (self.ctx.tags and not tags & self.ctx.tags) or tags & self.ctx.skip_tags:
            return self._skip(node, Status.SKIPPED, "excluded by tags", skip="tags")
        for need in needs:
            if self.results[need.key].blocks_dependents:
                status = self.results[need.key].status
                what = str(status) if status in {Status.FAILED, Status.ERROR} else f"was {status}"
                what = "broke" if status is Status.ERROR else what
                return self._skip(node, Status.SKIPPED, f"needs {need.step.name}, which {what}",
                                  skip="needs")
        return None

    def _skip(self, node: Node, status: Status, reason: str, skip: str = "") -> StepResult:
        now = time.time()
        return StepResult(node.key[0] or node.book.name, self.host.name, node.step.name, status,
                          reason=reason, started_at=now, ended_at=now,
                          fields={"skip": skip} if skip else {})

    def _run_step(self, node: Node, conn: Connection) -> StepResult:
        self.ctx.bus.emit(StepStarted(node.book.name, self.host.name, node.step.name))
        try:
            return self._run_once_or_call(node, conn)
        except Exception as exc:  # noqa: BLE001 - a bug around the step: still one result
            reason = f"urs failed around this step: {type(exc).__name__}: {exc}"
            result = replace(self._skip(node, Status.ERROR, reason), attempts=1)
            return replace(result, fields={"error": type(exc).__name__,
                                           "traceback": current_traceback(limit=-8)})

    def _run_once_or_call(self, node: Node, conn: Connection) -> StepResult:
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
            # the steps finished so far, as a copy: the scheduler adds results meanwhile
            context = {**self._context(node.book), "steps": dict(self.steps_vars[node.book.name])}
        except TemplateFailure as exc:
            return replace(self._skip(node, Status.ERROR, f"vars: {exc}"), attempts=1)
        call = StepCall(
            playbook=node.book.name, host=self.host.name, step=step,
            connection=self.ctx.local if step.local else conn,
            context=context, modules=self.ctx.modules, check_mode=self.ctx.check_mode,
            cancel=self.ctx.cancel, become=self._become(node),
            timeout=step.timeout or node.book.timeout or self.ctx.timeout,
            past_actions=self.ctx.past_actions.get(self.host.name, ()),
            previous=self.ctx.previous.get((node.book.name, self.host.name, step.name), ()),
            quarantined=self.ctx.quarantined.get((node.book.name, self.host.name, step.name), ""),
            secret=lambda value: self.ctx.redactor.add([value]),
            on_retry=lambda *retrying: self._retrying(node, *retrying),
        )
        try:
            return execute_step(call)
        except Unreachable as exc:
            self.lost = f"connection lost: {exc}"
            return replace(self._skip(node, Status.FAILED, self.lost), attempts=1)

    def _retrying(self, node: Node, attempt: int, attempts: int, delay: float,
                  reason: str) -> None:
        shown = "(hidden: no_log)" if node.step.no_log else self.ctx.redactor.text(reason)
        self.ctx.bus.emit(StepRetrying(node.book.name, self.host.name, node.step.name,
                                       node.label, attempt, attempts, delay, shown))

    def _become(self, node: Node) -> Become | None:
        wanted = node.step.become
        if wanted is None:
            wanted = bool(self.host.vars.get("ansible_become", False))
        if not wanted:
            return None
        user = node.step.become_user or self.host.vars.get("ansible_become_user") or "root"
        return Become(str(user))

    def _context(self, book: Playbook) -> dict[str, Any]:
        """Template variables for a playbook's steps on this host, built once."""
        if book.name not in self.contexts:
            self.contexts[book.name] = build_context(self.ctx, self.host, book)
        return self.contexts[book.name]

    def _finish(self, node: Node, result: StepResult) -> None:
        self.results[node.key] = result
        scope = self.steps_vars[node.book.name]
        scope[node.step.name] = scope[node.step.name.replace("-", "_")] = result.as_vars()
        shown = self.ctx.redactor.result(result, hide_all=node.step.no_log)
        self.ctx.bus.emit(StepFinished(shown, node.label))


# variables every host's context shares, scanned for secrets once per run (shared_secrets)
SHARED = frozenset({"env", "hostvars", "groups"})


def shared_secrets(ctx: RunContext) -> None:
    """Mask the secrets of what every host's context shares: the environment and every host's
    variables (`hostvars`), once per run rather than once per host (O(hosts^2))."""
    ctx.redactor.add(secret_values(dict(os.environ)))
    ctx.redactor.add(secret_values(ctx.inventory.hostvars))


def build_context(ctx: RunContext, host: Host, book: Playbook) -> dict[str, Any]:
    """Playbook defaults < inventory vars < playbook vars < secrets < -e, with Ansible's
    magic variables, each rendered when used (runner.templating.variables)."""
    inv = ctx.inventory
    plain = {
        "env": dict(os.environ),
        "inventory_hostname": host.name, "inventory_hostname_short": host.name.split(".")[0],
        "group_names": sorted(host.groups), "playbook_name": book.name,
        "groups": inv.members, "hostvars": inv.hostvars,
        "check_mode": ctx.check_mode,
    }
    layers = [book.defaults, host.vars, book.vars, book.secrets, ctx.extra_vars]
    context = resolve(layers, plain)
    ctx.redactor.add(secret_values({name: context[name] for name in book.secrets}, all_=True))
    own = {k for layer in layers for k in layer}  # a variable named like a shared one replaces it
    ctx.redactor.add(secret_values({k: v for k, v in context.items()
                                    if k not in SHARED or k in own}))
    return context



class Ready:
    """Steps whose needs have all ended, in file order: each step's count of needs still
    running goes down as they end, so a run costs O(steps + needs), not O(steps^2)."""

    def __init__(self, nodes: list[Node], needs: Callable[[Key], list[Node]]) -> None:
        self.position = {node.key: index for index, node in enumerate(nodes)}
        self.waiting = {node.key: len(needs(node.key)) for node in nodes}
        self.dependents: dict[Key, list[Key]] = {}
        for node in nodes:
            for need in needs(node.key):
                self.dependents.setdefault(need.key, []).append(node.key)
        self.heap = [(self.position[k], k) for k, count in self.waiting.items() if count == 0]
        heapq.heapify(self.heap)
        self.seen = 0  # results already counted

    def ended(self, results: dict[Key, StepResult]) -> list[Key]:
        """Steps that ended since the last call (results only grow, in order of ending)."""
        fresh = list(islice(reversed(results.keys()), len(results) - self.seen))[::-1]
        self.seen = len(results)
        for key in fresh:
            for dependent in self.dependents.get(key, ()):
                self.waiting[dependent] -= 1
                if self.waiting[dependent] == 0:
                    heapq.heappush(self.heap, (self.position[dependent], dependent))
        return fresh

    def first(self) -> Key | None:
        return self.heap[0][1] if self.heap else None

    def take(self) -> None:
        heapq.heappop(self.heap)
