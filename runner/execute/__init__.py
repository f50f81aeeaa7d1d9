"""Execute stage: hosts in parallel (bounded by forks, in `serial` batches), each host's
steps run by `runner.execute.host.HostRun`. Execution emits events and returns a RunResult; it never
prints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

from runner.events import RunFinished, RunStarted
from runner.execute.context import RunContext, RunState
from runner.execute.host import HostRun
from runner.inventory import Host
from runner.model import HostResult, Playbook, RunResult, Status


def execute(ctx: RunContext) -> RunResult:
    hosts = ctx.hosts()
    ctx.bus.emit(RunStarted(
        ctx.run_id, ctx.plan.root.name, tuple(b.name for b in ctx.plan.books),
        tuple(h.name for h in hosts), len(ctx.plan.nodes), ctx.check_mode, time.time(),
        ",".join(ctx.inventory.sources), tuple(n.label for n in ctx.plan.nodes.values())))
    state = RunState()
    results: list[HostResult] = []
    interrupted = False
    for batch in _batches(ctx.plan.root, hosts):
        done, interrupted = _run_batch(ctx, state, batch)
        results.extend(done)
        if interrupted or _too_many_failed(ctx.plan.root, results):
            break
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


def _run_batch(ctx: RunContext, state: RunState,
               batch: list[Host]) -> tuple[list[HostResult], bool]:
    """The batch's host results, and whether Ctrl-C stopped it (hosts not yet started are
    then not started at all; running steps are killed, pending ones skipped)."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(ctx.forks, len(batch))),
                              thread_name_prefix="host")
    futures = [pool.submit(HostRun(ctx, state, host).run) for host in batch]
    interrupted = False
    try:
        wait(futures)
    except KeyboardInterrupt:
        interrupted = True
        ctx.cancel.set()
        state.cancel_all()
        pool.shutdown(wait=True, cancel_futures=True)
    pool.shutdown(wait=True)
    return [f.result() for f in futures if not f.cancelled()], interrupted
