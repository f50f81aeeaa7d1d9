"""Execute stage: hosts in parallel (bounded by forks, in `serial` batches), each host's
steps run by `runner.execute.host.HostRun`. Execution emits events and returns a RunResult; it never
prints."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

from runner.events import RunFinished, RunStarted
from runner.execute.context import RunContext, RunState
from runner.execute.host import HostRun, shared_secrets
from runner.inventory import Host
from runner.model import HostResult, Playbook, RunResult, Status


def execute(ctx: RunContext) -> RunResult:
    """Run the plan; every event is handed to the observers before this returns."""
    hosts = ctx.hosts()
    shared_secrets(ctx)
    ctx.bus.emit(RunStarted(
        ctx.run_id, ctx.plan.root.name, tuple(b.name for b in ctx.plan.books),
        tuple(h.name for h in hosts), len(ctx.plan.nodes), ctx.check_mode, time.time(),
        ",".join(ctx.inventory.sources), tuple(n.label for n in ctx.plan.nodes.values()),
        ctx.job, ctx.check_reason))
    state = RunState()
    ctx.cancel.on_stop(state.cancel_all)
    results: list[HostResult] = []
    timer = _deadline(ctx)
    try:
        for batch in _batches(ctx.plan.root, hosts):
            results.extend(_run_batch(ctx, state, batch))
            if ctx.cancel.is_set() or _too_many_failed(ctx.plan.root, results):
                break
    finally:
        if timer is not None:
            timer.cancel()
    run = RunResult(ctx.run_id, tuple(results), interrupted=ctx.cancel.is_set())
    ctx.bus.emit(RunFinished(run, time.time()))
    ctx.bus.flush()
    return run


def _deadline(ctx: RunContext) -> threading.Timer | None:
    """At the run's deadline, stop it: no new step starts, running commands are killed."""
    if ctx.max_runtime is None:
        return None
    reason = f"the run's deadline passed (--max-runtime {ctx.max_runtime:g}s)"
    timer = threading.Timer(ctx.max_runtime, ctx.cancel.stop, (reason,))
    timer.daemon = True
    timer.start()
    return timer


def _batches(root: Playbook, hosts: list[Host]) -> Iterator[list[Host]]:
    size = root.serial or len(hosts) or 1
    for start in range(0, len(hosts), size):
        yield hosts[start:start + size]


def _too_many_failed(root: Playbook, results: list[HostResult]) -> bool:
    if root.max_fail_percentage is None or not results:
        return False
    failed = sum(1 for r in results if r.status in {Status.FAILED, Status.UNREACHABLE})
    return 100.0 * failed / len(results) > root.max_fail_percentage


def _run_batch(ctx: RunContext, state: RunState, batch: list[Host]) -> list[HostResult]:
    """The batch's host results. Once the run is stopped (Ctrl-C, SIGTERM, its deadline),
    hosts not yet started are not started at all; running steps are killed, pending ones
    skipped."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(ctx.forks, len(batch))),
                              thread_name_prefix="host")
    futures = [pool.submit(HostRun(ctx, state, host).run) for host in batch]
    try:
        wait(futures)
    except KeyboardInterrupt:
        ctx.cancel.stop("Ctrl-C or SIGTERM")
        pool.shutdown(wait=True, cancel_futures=True)
    pool.shutdown(wait=True)
    return [f.result() for f in futures if not f.cancelled()]
