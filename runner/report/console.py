"""The console reporter: one line per finished step and a recap per host; a retry says so
while it waits; an unreachable host is one line. On a terminal only: colours (never with
NO_COLOR) and a progress line for steps that take long. Names, hosts, reasons and output are
shown as `one_line` writes them: no control character of theirs reaches the terminal."""

from __future__ import annotations

import os
import sys
import threading
from typing import IO

import click

from runner.events import (
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from runner.model import FAILING, HostResult, Status, StepResult
from runner.redact import escape_controls
from runner.report.progress import Progress
from runner.report.text import delay, duration, one_line, plural

TAIL_LINES = 5
# the recap always shows these counts; error and interrupted only when there are some
ALWAYS_COUNTED = frozenset({Status.OK, Status.CHANGED, Status.RECOVERED, Status.FAILED,
                            Status.SKIPPED, Status.UNREACHABLE})
COLOURS = {
    "ok": "green", "changed": "yellow", "recovered": "cyan", "failed": "red",
    "skipped": "bright_black", "unreachable": "magenta", "interrupted": "red",
    "error": "red", "crashed": "red", "retrying": "yellow", "quarantined": "red",
}
PROBLEMS = FAILING | {Status.INTERRUPTED}
CLEAR_LINE = "\r\x1b[K"


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class ConsoleReporter:
    label = "the console output"

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False,
                 quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.colour = use_colour(self.stream)
        self.verbose, self.quiet = verbose, quiet
        self.started = 0.0
        self.width = 12
        self.label_width = 20
        self.check = ""
        self.labels: frozenset[str] = frozenset()
        self.unreachable: set[str] = set()  # hosts already shown as unreachable
        self._lock = threading.Lock()
        self._drawn = False  # a progress line is on the screen
        self.progress: Progress | None = None
        if self.stream.isatty() and not quiet:
            self.progress = Progress(self._draw)

    def _paint(self, text: str, status: str) -> str:
        return click.style(text, fg=COLOURS.get(status), bold=status in {"failed", "error"}) \
            if self.colour else text

    def _say(self, text: str) -> None:
        with self._lock:
            self.stream.write((CLEAR_LINE if self._drawn else "") + text + "\n")
            self._drawn = False
            self.stream.flush()

    def _draw(self, text: str) -> None:
        with self._lock:
            if text or self._drawn:
                self.stream.write(CLEAR_LINE + text)
                self.stream.flush()
            self._drawn = bool(text)

    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, StepStarted):
            if self.progress is not None:
                self.progress.started(one_line(event.host),
                                      one_line(self._label(event.playbook, event.step)))
        elif isinstance(event, StepRetrying):
            self._retrying(event)
        elif isinstance(event, StepFinished):
            if self.progress is not None:
                self.progress.finished(one_line(event.result.host), one_line(event.label))
            self._step(event.result, event.label)
        elif isinstance(event, RunFinished):
            if self.progress is not None:
                self.progress.stop()
                self._draw("")
            self._recap(event)

    def _label(self, playbook: str, step: str) -> str:
        return f"{playbook}/{step}" if f"{playbook}/{step}" in self.labels else step

    def _started(self, event: RunStarted) -> None:
        self.started = event.started_at
        self.labels = frozenset(event.labels)
        self.width = max([len(one_line(h)) for h in event.hosts] + [9])
        self.label_width = max([len(one_line(label)) for label in event.labels] + [10])
        self.check = _check_text(event)
        if self.quiet:
            return
        mode = f" [{self.check}]" if self.check else ""
        hosts = ", ".join(event.hosts) if len(event.hosts) <= 5 else f"{len(event.hosts)} hosts"
        self._say(f"urs run {one_line(event.playbook)}: {plural(event.steps, 'step')} on "
                  f"{one_line(hosts)}{mode}")

    def _retrying(self, e: StepRetrying) -> None:
        if not self.quiet:
            self._say(f"  {'':<11} {one_line(e.host):<{self.width}}  "
                      f"{one_line(e.label):<{self.label_width}}  "
                      f"{self._paint('retrying', 'retrying')} {e.attempt}/{e.attempts} in "
                      f"{delay(e.delay_s)}: {one_line(e.reason)}")

    def _step(self, r: StepResult, label: str) -> None:
        if r.status is Status.UNREACHABLE:
            self._unreachable(r)
            return
        if self.quiet and (r.status not in PROBLEMS or r.ignored):
            return
        status = "ignored" if r.ignored else str(r.status)
        line = (f"  {self._paint(f'{status:<11}', str(r.status))} {one_line(r.host):<{self.width}}"
                f"  {one_line(label):<{self.label_width}}  {duration(r.duration_s):>5}")
        if r.attempts > 1:
            line += f"  ({r.attempts} attempts)"
        if r.reason:
            line += f"  {one_line(r.reason)}"
        self._say(line)
        if r.reason.startswith("connection lost:"):
            self.unreachable.add(r.host)  # its other steps are unreachable for the same reason
        for text in self._output(r):
            self._say(f"      | {text}")

    def _unreachable(self, r: StepResult) -> None:
        """A host that cannot be reached is one line, however many steps it had."""
        if r.host in self.unreachable:
            return
        self.unreachable.add(r.host)
        self._say(f"  {self._paint('unreachable', 'unreachable')} "
                  f"{one_line(r.host):<{self.width}}  {one_line(r.reason)}")

    def _output(self, r: StepResult) -> list[str]:
        """The tail of the output: every step's with -v, else a failure's; a line the reason
        already says is not said again."""
        if self.verbose:
            return [*_tail(r.stdout), *_tail(r.stderr)]
        if r.status in {Status.FAILED, Status.ERROR, Status.QUARANTINED}:
            shown = _tail(r.stdout + "\n" + r.stderr)
            return [line for line in shown if line.strip() not in r.reason]
        return []

    def _recap(self, event: RunFinished) -> None:
        result = event.result
        if not self.quiet:
            self._say("")
            self._say("RECAP")
            for host in result.hosts:
                self._say(self._recap_line(host))
            if self.check:
                self._say(f"{self.check}: what would be recovered or run is reported above")
        self._say(f"run {result.run_id[:8]} {self._paint(result.status, result.status)} in "
                  f"{duration(event.ended_at - self.started)} (exit code {result.exit_code})")

    def _recap_line(self, host: HostResult) -> str:
        counts = " ".join(f"{s}={host.count(s)}" for s in Status
                          if s in ALWAYS_COUNTED or host.count(s))
        counts += f" ignored={host.ignored}" if host.ignored else ""  # why: the line above
        name = f"{one_line(host.host):<{self.width}}"
        return f"  {self._paint(name, str(host.status))}  {counts}"


def _check_text(event: RunStarted) -> str:
    if not event.check_mode:
        return ""
    why = event.check_reason if event.check_reason not in ("", "--check") else ""
    return f"check mode{f', {why}' if why else ''}: nothing is changed"


def _tail(text: str) -> list[str]:
    lines = [escape_controls(line) for line in text.rstrip().splitlines() if line.strip()]
    return lines[-TAIL_LINES:]
