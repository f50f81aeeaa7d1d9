"""One job of the daemon: its playbooks and inventory prepared through the same pipeline as
`urs run`, kept while their files are unchanged and prepared again when one changes; each run
recorded, logged and bounded by the job's timeout. Whatever goes wrong in a run is logged and
recorded, and the daemon goes on."""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner import pipeline
from runner.config import Job
from runner.connections import Connection
from runner.daemon.heartbeat import ping
from runner.daemon.log import JobLog, say
from runner.errors import InputError, LockBusy, StoreError
from runner.execute.context import Cancel
from runner.inventory import Host
from runner.notify import Policy
from runner.record.store import open_store

Signature = tuple[tuple[str, int, int], ...]
LOCKED, INVALID, CRASHED = 3, 2, 70
ANNOUNCE_S = 60.0  # the longest one delivery pass of the daemon may take
RECENT_S = 1.0  # files changed this shortly before they were read are read again next run


class JobRunner:
    def __init__(self, job: Job, store: Path, logger: logging.Logger,
                 connect: Callable[[Host], Connection] | None = None,
                 check_reason: str = "", policy: Policy | None = None) -> None:
        self.job = job
        self.check_reason = check_reason
        self.policy = policy
        self.store = store
        self.logger = logger
        self.connect = connect
        self._loaded: pipeline.Loaded | None = None
        self._signature: Signature | None = None

    def run(self, cancel: Cancel) -> int:
        """One run of the job, between heartbeat pings; its exit code, as `urs run` exits."""
        run_id = uuid.uuid4().hex
        if self.job.heartbeat:
            ping(self.job.heartbeat, "start", run_id, self.job.name, self.store, self.logger)
        code = self._run(run_id, cancel)
        if self.job.heartbeat:
            ping(self.job.heartbeat, "success" if code == 0 else "fail", run_id, self.job.name,
                 self.store, self.logger)
        return code

    def _run(self, run_id: str, cancel: Cancel) -> int:
        try:
            loaded = self._prepare()
            result = pipeline.run(loaded, self._options(run_id, cancel))
        except InputError as exc:
            return self._not_run(run_id, "invalid", "; ".join(map(str, exc.problems)), INVALID)
        except LockBusy as exc:
            return self._not_run(run_id, "skipped", str(exc), LOCKED)
        except StoreError as exc:
            say(self.logger, logging.ERROR, f"{self.job.name}: {exc}", job=self.job.name)
            return StoreError.exit_code
        except Exception:  # noqa: BLE001 - a bug in one run must not stop the daemon
            say(self.logger, logging.ERROR, f"{self.job.name}: crashed (a bug in urs)",
                job=self.job.name, traceback=traceback.format_exc())
            return CRASHED
        return result.exit_code

    def _options(self, run_id: str, cancel: Cancel) -> pipeline.Options:
        options = pipeline.Options(
            run_id=run_id, check_mode=self.job.check_mode, store=self.store,
            check_reason=self.check_reason, policy=self.policy,
            observers=(JobLog(self.logger, self.job.name),), connect=self.connect,
            cancel=cancel, job=self.job.name,
            warn=lambda text: say(self.logger, logging.WARNING, text, job=self.job.name),
        )
        if self.job.timeout is not None:
            options = replace(options, max_runtime=self.job.timeout)
        return options

    def _prepare(self) -> pipeline.Loaded:
        """The prepared job, read again only when one of its files changed."""
        if self._loaded is not None and _signature(self._loaded) == self._signature:
            return self._loaded
        started = time.time()
        extra = [json.dumps(dict(self.job.vars))] if self.job.vars else []
        loaded = pipeline.prepare(self.job.playbooks, self.job.inventory, extra, self.job.limit)
        for notice in loaded.notices:
            say(self.logger, logging.INFO, f"{self.job.name}: {notice}", job=self.job.name)
        signature = _signature(loaded)
        # a file changed while it was read, or twice within its timestamp's granularity, has
        # the same signature before and after: until its files are older, read them each run
        self._loaded = loaded
        self._signature = None if _recent(signature, started - RECENT_S) else signature
        return loaded

    def _not_run(self, run_id: str, status: str, reason: str, code: int) -> int:
        level = logging.ERROR if status == "invalid" else logging.INFO
        say(self.logger, level, f"{self.job.name}: {status}: {reason}", job=self.job.name)
        record(self.store, run_id, self.job, status, reason, code)
        return code


def record(store_path: Path, run_id: str, job: Job, status: str, reason: str,
           code: int) -> None:
    """A run that did not happen, in the store (best effort: the log has it anyway)."""
    try:
        store = open_store(store_path)
    except StoreError:
        return
    try:
        store.skipped_run(run_id, job.name, job.playbooks, status, reason, code)
    finally:
        store.close()


def _recent(signature: Signature, since: float) -> bool:
    return any(mtime_ns >= since * 1e9 for _, mtime_ns, _ in signature)


def _signature(loaded: pipeline.Loaded) -> Signature:
    """Size and modification time of every file the job was prepared from."""
    files = [b.path for b in loaded.plan.books if b.path]
    for source in loaded.inventory.sources:
        path = Path(source)
        if path.is_dir():
            files += [str(p) for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.exists():
            files.append(source)
    found = []
    for name in files:
        try:
            stat = Path(name).stat()
        except OSError:
            found.append((name, -1, -1))
            continue
        found.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def announce(store_path: Path, settings: Mapping[str, Any], policy: Policy,
             logger: logging.Logger) -> None:
    """Deliver what the configuration has waiting in the outbox, with the reminders and
    escalations by time its policy makes due; failures are logged and retried later."""
    from runner.notify.send import deliver

    try:
        store = open_store(store_path, policy)
    except StoreError as exc:
        say(logger, logging.ERROR, f"notifications: {exc}")
        return
    try:
        for attempt in deliver(store, settings, time.monotonic() + ANNOUNCE_S, policy.config):
            level = logging.INFO if attempt.ok else logging.WARNING
            say(logger, level, f"notification to {attempt.channel}: "
                f"{'delivered' if attempt.ok else attempt.error}", event=attempt.event)
    except Exception as exc:  # noqa: BLE001 - notifying never stops the daemon
        say(logger, logging.ERROR, f"notifications failed: {type(exc).__name__}: {exc}")
    finally:
        store.close()
