"""The JSON lines reporter: one JSON object per event on stdout."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from runner.events import Event, HostFinished, RunStarted, StepFinished, StepStarted
from runner.model import Status, StepResult

JSON_TAIL = 4000


class JsonReporter:
    """One JSON object per line and event, each with an `event` field."""

    label = "the JSON output"

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def notify(self, event: Event) -> None:
        self.stream.write(json.dumps(_as_json(event), default=str) + "\n")
        self.stream.flush()


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
        return {"event": "run_started", "run_id": event.run_id, "playbook": event.playbook,
                "playbooks": event.playbooks, "hosts": event.hosts, "steps": event.steps,
                "check_mode": event.check_mode, "check_reason": event.check_reason,
                "started_at": event.started_at}
    if isinstance(event, StepStarted):
        return {"event": "step_started", "playbook": event.playbook, "host": event.host,
                "step": event.step}
    if isinstance(event, StepFinished):
        return {"event": "step_finished", **step_json(event.result)}
    if isinstance(event, HostFinished):
        h = event.result
        return {"event": "host_finished", "host": h.host, "status": str(h.status),
                "counts": {str(s): h.count(s) for s in Status}, "reason": h.unreachable_reason}
    r = event.result
    return {"event": "run_finished", "run_id": r.run_id, "status": r.status,
            "exit_code": r.exit_code, "ended_at": event.ended_at}
