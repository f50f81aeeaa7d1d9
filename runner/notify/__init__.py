"""Escalation: incidents that open after repeated failures and resolve when a step passes again,
notifications that are never lost (an outbox in the store), and the flap guard.

The decisions are plain functions of a step's outcome and its incident's state (`decide`);
the store applies them in the same transaction as the outcome that caused them and queues one
delivery per channel (`runner.record`); a sender delivers the queue off the steps' path
(`runner.notify.send`). This module is light: no Apprise, no SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.model import FAILING, PASSED, Status

# skipped and interrupted steps, and check-mode runs, neither count nor break a streak

OPENED, REMINDER, ESCALATED, RESOLVED = "opened", "reminder", "escalated", "resolved"
OUTPUT_TAIL = 600  # characters of a step's output a message carries


@dataclass(frozen=True)
class Policy:
    """When incidents open, escalate, remind and resolve; where they are announced; when a
    recovery that keeps running is quarantined. From the configuration (`escalation`,
    `notifications`, each job's `max_failures`)."""

    max_failures: int = 3
    thresholds: Mapping[str, int] = field(default_factory=dict)  # playbook or playbook/step
    escalate_after_failures: int = 3
    escalate_after_s: float = 1800.0
    remind_every_s: float = 0.0
    max_recoveries: int = 5
    recovery_window_s: float = 3600.0
    quarantine_s: float = 3600.0
    channels: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()
    config: str = ""  # the configuration these channels are from (its file): its deliveries

    def threshold(self, playbook: str, step: str) -> int:
        return int(self.thresholds.get(f"{playbook}/{step}")
                   or self.thresholds.get(playbook) or self.max_failures)

    def channels_for(self, event: str) -> tuple[str, ...]:
        if event == ESCALATED:
            return self.every_channel
        return self.channels

    @property
    def every_channel(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.channels, *self.escalate_to)))


@dataclass(frozen=True)
class Streak:
    """A step's state on a host, as the store keeps it between outcomes."""

    failures: int = 0  # consecutive failing outcomes
    incident: int | None = None  # the open incident's id
    incident_failures: int = 0  # failures counted by the open incident
    escalated: bool = False


@dataclass(frozen=True)
class Decision:
    streak: Streak
    open: bool = False  # open an incident now
    escalate: bool = False
    resolve: bool = False


def decide(streak: Streak, status: Status, threshold: int, policy: Policy) -> Decision:
    """What one outcome (outside check mode) does to its step's streak and incident."""
    if status in PASSED:
        return Decision(Streak(), resolve=streak.incident is not None)
    if status not in FAILING:
        return Decision(streak)
    failures = streak.failures + 1
    if streak.incident is None:
        opening = failures >= threshold or status is Status.QUARANTINED
        return Decision(Streak(failures, None, failures if opening else 0), open=opening)
    counted = streak.incident_failures + 1
    more = counted - max(threshold, 1)
    escalate = (not streak.escalated and policy.escalate_after_failures > 0
                and more >= policy.escalate_after_failures)
    return Decision(Streak(failures, streak.incident, counted, streak.escalated or escalate),
                    escalate=escalate)


def payload(incident: Mapping[str, Any], result: Mapping[str, Any], event: str) -> dict[str, Any]:
    """What a message says about one incident event (the step result is already redacted)."""
    output = (str(result.get("stderr") or "") or str(result.get("stdout") or ""))
    return {
        "event": event, "incident": incident.get("id"), "playbook": incident["playbook"],
        "host": incident["host"], "step": incident["step"], "status": result.get("status", ""),
        "reason": result.get("reason", ""), "output": output[-OUTPUT_TAIL:],
        "run_id": result.get("run_id", ""), "failures": incident.get("failures", 0),
        "opened_at": incident.get("opened_at"), "resolved_at": incident.get("resolved_at"),
    }


@dataclass(frozen=True)
class Pending:
    """One queued delivery: an incident event for one channel."""

    id: int
    channel: str
    event: str
    run_id: str
    payload: Mapping[str, Any]
    attempts: int
    created_at: float
