"""What execution tells its observers. Reporting, recording and notifying subscribe here;
execution itself never prints."""

from __future__ import annotations

import threading
from collections.abc import Sequence
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


@dataclass(frozen=True)
class StepStarted:
    playbook: str
    host: str
    step: str


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


Event = RunStarted | StepStarted | StepFinished | HostFinished | RunFinished


class Observer(Protocol):
    def notify(self, event: Event) -> None: ...


class Bus:
    """Hands each event to every observer in turn, one event at a time."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._observers = list(observers)
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            for observer in self._observers:
                observer.notify(event)
