"""What execution tells its observers. Reporting, recording and notifying subscribe here;
execution itself never prints."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from runner.model import HostResult, RunResult, StepResult


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    playbook: str
    playbooks: tuple[str, ...]
    hosts: tuple[str, ...]
    steps: int
    check_mode: bool
    started_at: float
    inventory: str = ""
    labels: tuple[str, ...] = ()
    job: str = ""  # the daemon's job this run is for ("" for `urs run`)
    check_reason: str = ""  # why it runs in check mode: "--check", "auto-recovery is off (...)"


@dataclass(frozen=True)
class StepStarted:
    playbook: str
    host: str
    step: str


@dataclass(frozen=True)
class StepRetrying:
    """A step's attempt failed and the next one starts after `delay_s` (retries, delay)."""

    playbook: str
    host: str
    step: str
    label: str  # the step as the console shows it
    attempt: int  # the attempt about to start: 2, 3, ...
    attempts: int  # how many attempts the step may take
    delay_s: float
    reason: str  # why the attempt before failed


@dataclass(frozen=True)
class StepFinished:
    result: StepResult
    label: str  # the step as the console shows it (playbook/step when several playbooks run)


@dataclass(frozen=True)
class HostFinished:
    result: HostResult


@dataclass(frozen=True)
class RunFinished:
    result: RunResult
    ended_at: float


Event = RunStarted | StepStarted | StepRetrying | StepFinished | HostFinished | RunFinished


class Observer(Protocol):
    def notify(self, event: Event) -> None: ...


class Bus:
    """Hands each event to every observer, in order, from one dispatcher thread, so a slow or
    failing observer never stalls or stops a step. An observer that raises is reported once
    (through `on_failure`) and still gets the later events: a store that was locked for a
    moment records the rest of the run."""

    def __init__(self, observers: Sequence[Observer],
                 on_failure: Callable[[Observer, BaseException], None] | None = None) -> None:
        self._observers = list(observers)
        self._on_failure = on_failure
        self._queue: queue.Queue[Event | _Marker | None] = queue.Queue()
        self._failed: dict[int, int] = {}  # id(observer) -> failures
        self._thread = threading.Thread(target=self._dispatch, name="events", daemon=True)
        self._thread.start()

    def emit(self, event: Event) -> None:
        self._queue.put(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event emitted so far was handed out; whether it was in time."""
        done = threading.Event()
        self._queue.put(_Marker(done))
        return done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def failures(self) -> int:
        return sum(self._failed.values())

    def _dispatch(self) -> None:
        while (event := self._queue.get()) is not None:
            if isinstance(event, _Marker):
                event.done.set()
                continue
            for observer in self._observers:
                self._deliver(observer, event)

    def _deliver(self, observer: Observer, event: Event) -> None:
        try:
            observer.notify(event)
        except Exception as exc:  # noqa: BLE001 - an observer's trouble is never the run's
            key = id(observer)
            self._failed[key] = self._failed.get(key, 0) + 1
            if self._failed[key] == 1 and self._on_failure is not None:
                with contextlib.suppress(Exception):
                    self._on_failure(observer, exc)


@dataclass(frozen=True)
class _Marker:
    done: threading.Event
