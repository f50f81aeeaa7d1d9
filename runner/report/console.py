"""The console reporter: one line per finished step and a recap per host (colours only on a
terminal, never with NO_COLOR)."""

from __future__ import annotations

import os
import sys
import threading
from typing import IO

import click

from runner.events import Event, RunFinished, RunStarted, StepFinished
from runner.model import HostResult, Status, StepResult
from runner.redact import escape_controls

TAIL_LINES = 5
# the recap always shows these counts; error and interrupted only when there are some
ALWAYS_COUNTED = frozenset({Status.OK, Status.CHANGED, Status.RECOVERED, Status.FAILED,
                            Status.SKIPPED, Status.UNREACHABLE})
COLOURS = {
    "ok": "green", "changed": "yellow", "recovered": "cyan", "failed": "red",
    "skipped": "bright_black", "unreachable": "magenta", "interrupted": "red",
    "error": "red", "crashed": "red",
}


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class ConsoleReporter:
    label = "the console output"

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.colour = use_colour(self.stream)
        self.verbose = verbose
        self.started = 0.0
        self.width = 12
        self.label_width = 20
        self.check = ""
        self._lock = threading.Lock()

    def _paint(self, text: str, status: str) -> str:
        return click.style(text, fg=COLOURS.get(status), bold=status in {"failed", "error"}) \
            if self.colour else text

    def _say(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = event.started_at
            self.width = max([len(h) for h in event.hosts] + [9])
            self.label_width = max([len(label) for label in event.labels] + [10])
            self.check = _check_text(event)
            mode = f" [{self.check}]" if self.check else ""
            hosts = ", ".join(event.hosts) if len(event.hosts) <= 5 else f"{len(event.hosts)} hosts"
            self._say(f"urs run {event.playbook}: {event.steps} steps on {hosts}{mode}")
        elif isinstance(event, StepFinished):
            self._step(event.result, event.label)
        elif isinstance(event, RunFinished):
            self._recap(event.result.hosts, event.result.status, event.result.exit_code,
                        event.ended_at - self.started, event.result.run_id)

    def _step(self, r: StepResult, label: str) -> None:
        status = "ignored" if r.ignored else str(r.status)
        line = (f"  {self._paint(f'{status:<11}', str(r.status))} {r.host:<{self.width}}  "
                f"{label:<{self.label_width}}  {r.duration_s:5.2f}s")
        if r.attempts > 1:
            line += f"  ({r.attempts} attempts)"
        if r.reason:
            line += f"  {escape_controls(r.reason)}"
        self._say(line)
        if self.verbose:
            shown = [*_tail(r.stdout), *_tail(r.stderr)]
        elif r.status in {Status.FAILED, Status.ERROR}:
            shown = _tail(r.stderr or r.stdout)
        else:
            shown = []
        for text in shown:
            self._say(f"      | {text}")

    def _recap(self, hosts: tuple[HostResult, ...], status: str, code: int, took: float,
               run_id: str) -> None:
        self._say("")
        self._say("RECAP")
        for host in hosts:
            counts = " ".join(f"{s}={host.count(s)}" for s in Status
                              if s in ALWAYS_COUNTED or host.count(s))
            counts += f" ignored={host.ignored}" if host.ignored else ""
            reason = f"  {host.unreachable_reason}" if host.unreachable_reason else ""
            self._say(f"  {self._paint(f'{host.host:<{self.width}}', str(host.status))}  "
                      f"{counts}{reason}")
        if self.check:
            self._say(f"{self.check}: what would be recovered or run is reported above")
        self._say(f"run {run_id[:8]} {self._paint(status, status)} in {took:.2f}s "
                  f"(exit code {code})")


def _check_text(event: RunStarted) -> str:
    if not event.check_mode:
        return ""
    why = event.check_reason if event.check_reason not in ("", "--check") else ""
    return f"check mode{f', {why}' if why else ''}: nothing is changed"


def _tail(text: str) -> list[str]:
    lines = [escape_controls(line) for line in text.rstrip().splitlines() if line.strip()]
    return lines[-TAIL_LINES:]
