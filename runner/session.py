"""One run, wired: the lock, the outcome store and the reporter subscribed to execution,
connections made per host (SSH loaded only when a host needs it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.connection import Connection, Unreachable
from runner.context import RunContext
from runner.events import Bus, Observer
from runner.execute import execute
from runner.inventory import Host, Inventory
from runner.local import LocalConnection
from runner.lock import RunLock
from runner.model import RunResult
from runner.modules import Module
from runner.plan import Plan
from runner.redact import Redactor, secret_values
from runner.report import ConsoleReporter, JsonReporter
from runner.store import OutcomeStore, SQLiteStore, default_path

SSH_KINDS = ("ssh", "smart", "paramiko")  # Ansible's names for an SSH connection


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


class Connector:
    """Makes each host's connection: local ones here, SSH ones through runner.ssh."""

    def __init__(self, options: Options) -> None:
        self.options = options

    def __call__(self, host: Host) -> Connection:
        if host.is_local:
            return LocalConnection(host.name)
        kind = str(host.vars.get("ansible_connection") or "ssh")
        if kind not in SSH_KINDS:
            raise Unreachable(f"{host.name}: ansible_connection '{kind}' is not supported "
                              "(local or ssh)")
        from runner.ssh import connect

        return connect(host, known_hosts=self.options.known_hosts,
                           policy=self.options.host_key_policy)


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
            connect=Connector(options), local=LocalConnection("localhost"),
            extra_vars=extra_vars, check_mode=options.check_mode, tags=options.tags,
            skip_tags=options.skip_tags, forks=options.forks,
        )
        return execute(ctx)
    finally:
        store.close()
        lock.release()
