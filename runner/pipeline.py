"""One run, wired: the lock, the outcome store and the reporter subscribed to execution,
connections made per host (SSH loaded only when a host needs it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.connections import Connector
from runner.connections.local import LocalConnection
from runner.events import Bus, Observer
from runner.execute import execute
from runner.execute.context import RunContext
from runner.inventory import Host, Inventory
from runner.model import RunResult
from runner.modules import Module
from runner.plan import Plan
from runner.record.lock import RunLock
from runner.record.store import OutcomeStore, SQLiteStore, default_path
from runner.redact import Redactor, secret_values
from runner.report.console import ConsoleReporter
from runner.report.jsonl import JsonReporter


@dataclass(frozen=True)
class Options:
    run_id: str
    lock_key: str
    forks: int = 20
    check_mode: bool = False
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    as_json: bool = False
    store: Path | None = None
    wait_s: float = 0.0
    known_hosts: Path | None = None
    host_key_policy: str = "strict"
    verbose: bool = False


def run(plan: Plan, inventory: Inventory, targets: Mapping[str, tuple[Host, ...]],
        extra_vars: Mapping[str, Any], modules: Mapping[str, Module],
        options: Options) -> RunResult:
    store_path = options.store or default_path()
    lock = RunLock(store_path.parent / "locks", options.lock_key)
    lock.acquire(options.wait_s)
    store: OutcomeStore = SQLiteStore(store_path)
    try:
        reporter: Observer = JsonReporter() if options.as_json else \
            ConsoleReporter(verbose=options.verbose)
        redactor = Redactor(secret_values(dict(os.environ)))
        redactor.add(secret_values(dict(extra_vars)))
        ctx = RunContext(
            run_id=options.run_id, plan=plan, inventory=inventory, targets=targets,
            modules=modules, bus=Bus([store, reporter]), redactor=redactor,
            connect=Connector(options.known_hosts, options.host_key_policy),
            local=LocalConnection("localhost"),
            extra_vars=extra_vars, check_mode=options.check_mode, tags=options.tags,
            skip_tags=options.skip_tags, forks=options.forks,
        )
        return execute(ctx)
    finally:
        store.close()
        lock.release()
