"""load -> plan -> run, wired once for every caller (the CLI, the daemon): `prepare` loads and
plans (every input problem at once, before anything runs), `run` takes the lock, opens the
store, subscribes the observers and executes. Nothing here owns process-wide state: signals,
exit codes and printing stay with the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.connections import Connection, Connector
from runner.connections.local import LocalConnection
from runner.errors import current_traceback
from runner.events import Bus, Observer
from runner.execute import execute
from runner.execute.context import DEFAULT_TIMEOUT_S, Cancel, RunContext
from runner.inventory import Host, Inventory
from runner.model import PastAction, RunResult
from runner.modules import Module
from runner.notify import Policy
from runner.plan import Plan
from runner.record.lock import RunLock, lock_key
from runner.record.store import OutcomeStore, default_path, open_store
from runner.redact import Redactor, secret_values

DEFAULT_MAX_RUNTIME_S = 3600.0
ACTION_MEMORY_S = 30 * 86400.0  # how far back modules see what they did (caps per window)
ANNOUNCE_S = 30.0  # the longest `urs run` spends delivering notifications after a run
PREVIOUS_OUTCOMES = 20  # earlier outcomes of each step a module sees (consecutive failures)


@dataclass(frozen=True)
class Loaded:
    plan: Plan
    inventory: Inventory
    targets: dict[str, tuple[Host, ...]]
    extra: dict[str, Any]
    modules: Mapping[str, Module]
    notices: tuple[str, ...] = ()

    def files(self) -> list[str]:
        """The playbook files named on the command line (what the run lock is keyed on)."""
        root = self.plan.root
        return [root.path] if root.path else [b.path for b in root.includes]


def prepare(playbooks: Sequence[str], inventories: Sequence[str], extra: Sequence[str],
            limit: str | None, modules: Mapping[str, Module] | None = None) -> Loaded:
    """load -> plan: InputError with every problem of the input before anything runs.
    modules: the built-in ones unless given."""
    from runner import load, plan
    from runner.modules import FieldsOf, registry

    modules = modules if modules is not None else registry()
    book, inv, extra_vars = load.load_all(playbooks, inventories, extra, FieldsOf(modules))
    known = set(extra_vars) | {k for h in inv.hosts.values() for k in h.vars}
    the_plan = plan.build(book, known)
    targets, notices = plan.targets(the_plan, inv, limit)
    notices += [*inv.warnings, *load.extravars.unused(book, extra_vars)]
    return Loaded(the_plan, inv, targets, extra_vars, modules, tuple(notices))


@dataclass(frozen=True)
class Options:
    run_id: str
    forks: int = 20
    check_mode: bool = False
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    store: Path | None = None
    wait_s: float = 0.0
    known_hosts: Path | None = None
    host_key_policy: str = "strict"
    timeout: float = DEFAULT_TIMEOUT_S
    max_runtime: float | None = DEFAULT_MAX_RUNTIME_S
    observers: tuple[Observer, ...] = ()  # reporters: what the caller shows of the run
    warn: Callable[[str], None] = field(default=lambda text: None)  # an observer's failure
    connect: Callable[[Host], Connection] | None = None  # default: a new connection per host
    cancel: Cancel | None = None  # lets the caller stop the run (a daemon shutting down)
    job: str = ""  # the daemon's job the run is for
    check_reason: str = ""  # why check_mode is on ("--check", "auto-recovery is off (...)")
    policy: Policy | None = None  # when incidents open and where they are announced
    # how notices are delivered after the run; empty: the caller delivers them (the daemon)
    notifications: Mapping[str, Any] = field(default_factory=dict)


def run(loaded: Loaded, options: Options) -> RunResult:
    """Run a prepared plan under its lock, recorded in the store; a bug in urs during the run
    is recorded as `crashed` (with its traceback) and raised again."""
    store_path = options.store or default_path()
    store = open_store(store_path, options.policy)
    try:
        lock = RunLock(store_path.parent / "locks", lock_key(loaded.files(),
                       loaded.inventory.sources), label=loaded.plan.root.name)
        lock.acquire(options.wait_s, options.max_runtime)
    except BaseException:
        store.close()
        raise
    bus = Bus([store, *options.observers], on_failure=_reporting(options.warn))
    try:
        result = _execute(loaded, options, bus, store)
    finally:
        bus.close()
        lock.release()
    try:
        _announce(store, options)
    finally:
        store.close()
    return result


def _announce(store: OutcomeStore, options: Options) -> None:
    """Deliver what this run's configuration has waiting in the outbox (this run's notices
    and any an earlier process left), after the run and outside its lock, and drop what it
    queued for channels it no longer has; a channel that is down never changes the run."""
    policy = options.policy
    if policy is None or not policy.config or not options.notifications:
        return  # no configuration (nothing in the outbox is this run's), or the caller sends
    from runner.notify.send import deliver, drop_removed

    try:
        for line in drop_removed(store, policy):
            options.warn(f"warning: {line}")
        if not policy.every_channel:
            return
        deadline = time.monotonic() + ANNOUNCE_S
        for attempt in deliver(store, options.notifications, deadline, policy.config):
            if not attempt.ok:
                options.warn(f"warning: notification to {attempt.channel} failed: "
                             f"{attempt.error} (it will be retried)")
    except Exception as exc:  # noqa: BLE001 - notifying never changes a run's outcome
        options.warn(f"warning: notifications failed: {type(exc).__name__}: {exc}")


def _past_actions(loaded: Loaded, store: OutcomeStore) -> dict[str, tuple[PastAction, ...]]:
    by_host: dict[str, list[PastAction]] = {}
    names = [b.name for b in loaded.plan.books]
    for action in store.recent_actions(names, time.time() - ACTION_MEMORY_S):
        by_host.setdefault(action.host, []).append(action)
    return {host: tuple(actions) for host, actions in by_host.items()}


def _steps_to_run(loaded: Loaded) -> list[tuple[str, str, str]]:
    """(playbook, host, step) of every step the run may execute: whose earlier outcomes the
    store is asked for (what `execute.host` looks up)."""
    return [(node.book.name, host.name, node.step.name) for node in loaded.plan.nodes.values()
            for host in loaded.targets.get(node.book.name, ())]


def _execute(loaded: Loaded, options: Options, bus: Bus, store: OutcomeStore) -> RunResult:
    redactor = Redactor(secret_values(dict(loaded.extra)))
    ctx = RunContext(
        run_id=options.run_id, plan=loaded.plan, inventory=loaded.inventory,
        targets=loaded.targets, modules=loaded.modules, bus=bus, redactor=redactor,
        connect=options.connect or Connector(options.known_hosts, options.host_key_policy),
        local=LocalConnection("localhost"), extra_vars=loaded.extra,
        check_mode=options.check_mode, tags=options.tags, skip_tags=options.skip_tags,
        forks=options.forks, timeout=options.timeout, max_runtime=options.max_runtime,
        past_actions=_past_actions(loaded, store), job=options.job,
        check_reason=options.check_reason or ("--check" if options.check_mode else ""),
        cancel=options.cancel or Cancel(),
        previous=store.previous_outcomes(_steps_to_run(loaded), PREVIOUS_OUTCOMES,
                                         time.time() - ACTION_MEMORY_S),
        quarantined=store.quarantined([b.name for b in loaded.plan.books], time.time()),
    )
    try:
        return execute(ctx)
    except Exception:
        bus.flush(10.0)
        store.crashed(options.run_id, redactor.text(current_traceback()))
        raise


def _reporting(warn: Callable[[str], None]) -> Callable[[Observer, BaseException], None]:
    def report(observer: Observer, exc: BaseException) -> None:
        if isinstance(exc, BrokenPipeError):
            return  # the reader went away (`| head`): the run goes on, recorded
        label = getattr(observer, "label", type(observer).__name__)
        warn(f"warning: {label} failed: {type(exc).__name__}: {exc}; "
             "the run goes on (reported once)")
    return report
