"""`urs daemon`: the configured jobs on their schedules, in one process, in the foreground.

Each job runs through the same pipeline as `urs run` (runner.daemon.jobs), never twice at once:
a tick that finds the previous run still going is skipped and recorded as such. SIGTERM and
SIGINT stop it cleanly (running steps get a grace period, then are stopped and recorded), SIGHUP
reloads the configuration (an invalid one is reported and the old one kept). One daemon per
configuration and store: a second one refuses to start, naming the first. Its heartbeat in the
store is what `urs status` shows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from runner.config import Config, Job
from runner.connections import Connection
from runner.connections.pool import Pool
from runner.daemon.jobs import JobRunner, announce, record
from runner.daemon.log import say, setup
from runner.daemon.schedule import Due, first_time
from runner.errors import InputError, LockBusy
from runner.execute.context import Cancel
from runner.inventory import Host
from runner.record.lock import RunLock
from runner.record.store import OutcomeStore, open_store

BEAT_S = 5.0  # how often the heartbeat is written
LOOP_S = 1.0  # the longest the loop sleeps: signals and reloads are seen within it
SEVERITY = (70, 130, 5, 2, 4, 1, 3, 0)  # which exit code of several runs `--once` reports


@dataclass
class Running:
    future: Future[int]
    cancel: Cancel
    since: float
    config: Config  # what it was started with: a reload may come while it runs


class Daemon:
    def __init__(self, load_config: Callable[[], Config], *, log_format: str | None = None,
                 grace_s: float = 30.0,
                 connect: Callable[[Host], Connection] | None = None) -> None:
        self.load_config = load_config
        self.config = load_config()
        self.log_format = log_format
        self.grace_s = grace_s
        self.pool = Pool()  # SSH connections kept warm across ticks
        self.given_connect = connect
        self.logger = setup(self.config.log, log_format)
        self.store_path = Path(self.config.store)
        self.monitor_id = uuid.uuid4().hex
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self.wake = threading.Event()
        self.runners: dict[str, JobRunner] = {}
        self.dues: dict[str, Due] = {}
        self.running: dict[str, Running] = {}
        self.sender: Future[None] | None = None
        self._apply(self.config)

    # -- signals (set by the CLI's handlers) ----------------------------------------------

    def stop(self, why: str) -> None:
        say(self.logger, logging.INFO, f"stopping: {why}")
        self.stopping.set()
        self.wake.set()

    def request_reload(self) -> None:
        self.reload.set()
        self.wake.set()

    # -- the two ways to run ---------------------------------------------------------------

    def serve(self) -> int:
        """Run the jobs on their schedules until stopped; 0 once stopped cleanly."""
        store, lock = self._claim()
        say(self.logger, logging.INFO, f"started: {len(self.dues)} jobs "
            f"({', '.join(self.dues) or 'none enabled'})", config=self._config_name())
        self._drop_removed(store)
        last_beat = 0.0
        with ThreadPoolExecutor(max_workers=max(4, len(self.runners)),
                                thread_name_prefix="job") as pool:
            try:
                while not self.stopping.is_set():
                    last_beat = self._tick(pool, store, last_beat)
            finally:
                self._shutdown()
                self.pool.close()
                store.monitor_beat(self.monitor_id, self._config_name(), stopped=True)
                store.close()
                lock.release()
        say(self.logger, logging.INFO, "stopped")
        return 0

    def once(self) -> int:
        """Every enabled job once, at the same time; the most severe of their exit codes."""
        store, lock = self._claim(beat=False)
        self._drop_removed(store)
        store.close()
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(self.dues))) as pool:
                futures = [pool.submit(self.runners[name].run, Cancel()) for name in self.dues]
                codes = {f.result() for f in futures}
        finally:
            self.pool.close()
            lock.release()
        return next((code for code in SEVERITY if code in codes), max(codes, default=0))

    # -- the loop ----------------------------------------------------------------------------

    def _tick(self, pool: ThreadPoolExecutor, store: OutcomeStore, last_beat: float) -> float:
        if self.reload.is_set():
            self.reload.clear()
            if self._reload():
                self._drop_removed(store)
        now = time.time()
        if self._reap():  # what it queued may be for channels that are gone
            self._drop_removed(store)
        for name, due in list(self.dues.items()):
            if due.at <= now:
                self._start(name, due, now, pool)
        if now - last_beat >= BEAT_S:
            store.monitor_beat(self.monitor_id, self._config_name())
            last_beat = now
        self._announce(pool)
        self.pool.close_idle()
        nearest = min((d.at for d in self.dues.values()), default=now + LOOP_S)
        self.wake.wait(min(max(nearest - time.time(), 0.01), LOOP_S))
        self.wake.clear()
        return last_beat

    def _start(self, name: str, due: Due, now: float, pool: ThreadPoolExecutor) -> None:
        due.advance(now)
        busy = self.running.get(name)
        if busy is not None:
            since = time.strftime("%H:%M:%S", time.localtime(busy.since))
            reason = f"the previous run of job {name} is still running (since {since})"
            say(self.logger, logging.WARNING, f"{name}: tick skipped: {reason}", job=name)
            record(self.store_path, uuid.uuid4().hex, due.job, "skipped", reason, 3)
            return
        cancel = Cancel()
        future = pool.submit(self.runners[name].run, cancel)
        self.running[name] = Running(future, cancel, now, self.config)
        future.add_done_callback(lambda _: self.wake.set())

    def _announce(self, pool: ThreadPoolExecutor) -> None:
        """Deliver the outbox in the background (one sender at a time): notices of every run,
        reminders and escalations that came due, and what a killed process left undelivered."""
        settings = self.config.sections.get("notifications", {})
        if not (settings.get("channels") or settings.get("escalate_to")):
            return
        if self.sender is not None and not self.sender.done():
            return
        from runner.notify.settings import policy_for

        self.sender = pool.submit(announce, self.store_path, settings, policy_for(self.config),
                                  self.logger)

    def _drop_removed(self, store: OutcomeStore) -> None:
        """What this configuration queued for channels it no longer has is dropped, once it
        is loaded (at start and on each reload): never sent, logged, kept with the reason."""
        from runner.notify.send import drop_removed
        from runner.notify.settings import policy_for

        try:
            for line in drop_removed(store, policy_for(self.config)):
                say(self.logger, logging.WARNING, f"notifications: {line}")
        except Exception as exc:  # noqa: BLE001 - notifying never stops the daemon
            say(self.logger, logging.ERROR, f"notifications: {type(exc).__name__}: {exc}")

    def _reap(self) -> bool:
        """Forget the runs that ended; whether one of them began before the last reload."""
        older = False
        for name, running in list(self.running.items()):
            if running.future.done():
                del self.running[name]
                older = older or running.config is not self.config
        return older

    def _shutdown(self) -> None:
        """Let running jobs finish within the grace period, then stop them; wait for their
        records either way."""
        futures = [r.future for r in self.running.values()]
        if futures:
            say(self.logger, logging.INFO, f"waiting up to {self.grace_s:g}s for "
                f"{', '.join(self.running)}")
        _, late = wait(futures, timeout=self.grace_s)
        for running in self.running.values():
            if running.future in late:
                running.cancel.stop("the daemon is stopping")
        wait(futures)
        self.running.clear()

    # -- configuration -----------------------------------------------------------------------

    def _reload(self) -> bool:
        """Read the configuration again and use it; False when it is invalid (kept the old)."""
        try:
            config = self.load_config()
        except InputError as exc:
            for problem in exc.problems:
                say(self.logger, logging.ERROR, f"reload refused, the old configuration stays: "
                    f"{problem}")
            return False
        self.logger = setup(config.log, self.log_format)
        self._apply(config)
        say(self.logger, logging.INFO, f"reloaded: {len(self.dues)} jobs "
            f"({', '.join(self.dues) or 'none enabled'})")
        return True

    def _apply(self, config: Config) -> None:
        """Use a configuration: unchanged jobs keep their runner (prepared playbooks) and
        their next time; new and changed ones start afresh. Every runner takes the settings
        outside its job (escalation, notifications, ssh) from this configuration."""
        now = time.time()
        old = {name: due.job for name, due in self.dues.items()}
        connect = self.given_connect or self.pool.connector(config.ssh.known_hosts,
                                                            config.ssh.host_key_policy)
        runners, dues = {}, {}
        for job in config.jobs:
            if not job.enabled:
                continue
            same = old.get(job.name) == job and job.name in self.runners
            runners[job.name] = self._runner(job, config, connect,
                                             self.runners[job.name] if same else None)
            dues[job.name] = self.dues[job.name] if same else Due(job, first_time(job, now))
        self.config, self.runners, self.dues = config, runners, dues

    def _runner(self, job: Job, config: Config, connect: Callable[[Host], Connection],
                kept: JobRunner | None) -> JobRunner:
        from runner.notify.settings import policy_for

        why = ""
        if job.check_mode:
            why = f"auto-recovery is off ({config.origin(f'jobs.{job.name}.check_mode')})"
        if kept is None:
            return JobRunner(job, Path(config.store), self.logger, connect, why,
                             policy_for(config, job))
        kept.logger, kept.connect, kept.check_reason = self.logger, connect, why
        kept.policy = policy_for(config, job)
        return kept

    def _config_name(self) -> str:
        return self.config.name

    def _claim(self, beat: bool = True) -> tuple[OutcomeStore, RunLock]:
        """The daemon lock (one daemon per configuration and store) and the store."""
        key = json.dumps({"daemon": self._config_name(), "store": self.config.store})
        lock = RunLock(self.store_path.parent / "locks", key, label=self._config_name(),
                       busy="another urs daemon runs with {label} and this store")
        lock.acquire(0)
        store = open_store(self.store_path)
        if beat:
            store.monitor_beat(self.monitor_id, self._config_name())
        return store, lock


__all__ = ["Daemon", "LockBusy"]
