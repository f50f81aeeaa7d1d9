"""The JSON lines reporter: one JSON object per event on stdout, each with `event`, `run_id`
and `schema_version` (docs/events.schema.json is the contract). With --json the CLI writes
its errors and notices the same way, so every line of stdout is JSON."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from runner.events import (
    Event,
    HostFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from runner.model import Status, StepResult

JSON_TAIL = 4000
SCHEMA_VERSION = 1


class JsonReporter:
    """One JSON object per line and event."""

    label = "the JSON output"

    def __init__(self, run_id: str = "", stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.run_id = run_id

    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
        self.write(_as_json(event))

    def write(self, line: dict[str, Any]) -> None:
        """Any line of the run's output (an event, an error, a notice), stamped."""
        stamped = {"event": line.pop("event"), "run_id": self.run_id,
                   "schema_version": SCHEMA_VERSION, **line}
        self.stream.write(json.dumps(stamped, default=str) + "\n")
        self.stream.flush()

    def error(self, messages: list[str], exit_code: int) -> None:
        self.write({"event": "error", "errors": messages, "exit_code": exit_code})

    def skipped(self, reason: str, exit_code: int) -> None:
        self.write({"event": "run_skipped", "reason": reason, "exit_code": exit_code})

    def notice(self, message: str) -> None:
        self.write({"event": "notice", "message": message})


def step_json(r: StepResult) -> dict[str, Any]:
    return {
        "playbook": r.playbook, "host": r.host, "step": r.step, "status": str(r.status),
        "rc": r.rc, "attempts": r.attempts, "duration_s": r.duration_s, "reason": r.reason,
        "stdout": r.stdout[-JSON_TAIL:], "stderr": r.stderr[-JSON_TAIL:], "changed": r.changed,
        "ignored": r.ignored, "started_at": r.started_at, "ended_at": r.ended_at,
        "fields": dict(r.fields),
    }


def _as_json(event: Event) -> dict[str, Any]:
    if isinstance(event, RunStarted):
        return {"event": "run_started", "playbook": event.playbook,
                "playbooks": event.playbooks, "hosts": event.hosts, "steps": event.steps,
                "check_mode": event.check_mode, "check_reason": event.check_reason,
                "started_at": event.started_at}
    if isinstance(event, StepStarted):
        return {"event": "step_started", "playbook": event.playbook, "host": event.host,
                "step": event.step}
    if isinstance(event, StepRetrying):
        return {"event": "step_retrying", "playbook": event.playbook, "host": event.host,
                "step": event.step, "attempt": event.attempt, "attempts": event.attempts,
                "delay_s": event.delay_s, "reason": event.reason}
    if isinstance(event, StepFinished):
        return {"event": "step_finished", **step_json(event.result)}
    if isinstance(event, HostFinished):
        h = event.result
        return {"event": "host_finished", "host": h.host, "status": str(h.status),
                "counts": {str(s): h.count(s) for s in Status}, "reason": h.unreachable_reason}
    r = event.result
    return {"event": "run_finished", "status": r.status, "exit_code": r.exit_code,
            "ended_at": event.ended_at}
