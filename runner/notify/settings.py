"""The escalation policy of a run, from the configuration: the `escalation` and
`notifications` sections, and each job's `max_failures` (GITHUB_MAX_FAILURES, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.config import Config, Job
from runner.fields import parse_duration
from runner.notify import Policy


def policy_for(config: Config, job: Job | None = None) -> Policy:
    """For a job's runs, its max_failures is the threshold; for `urs run`, each job's
    max_failures holds for the playbooks that job runs, then `escalation.thresholds`."""
    escalation = config.sections.get("escalation", {})
    notifications = config.sections.get("notifications", {})
    default = int(escalation.get("max_failures", 3))
    thresholds: dict[str, int] = {}
    for each in config.jobs:
        if _set(config, each):
            thresholds.update(dict.fromkeys(each.playbooks, each.max_failures))
    thresholds.update(_ints(escalation.get("thresholds") or {}))
    mine = job is not None and _set(config, job)
    return Policy(
        max_failures=job.max_failures if job is not None and mine else default,
        thresholds=thresholds,
        escalate_after_failures=int(escalation.get("escalate_after_failures", 3)),
        escalate_after_s=_seconds(escalation.get("escalate_after"), 1800.0),
        remind_every_s=_seconds(escalation.get("remind_every"), 0.0),
        max_recoveries=int(escalation.get("max_recoveries", 5)),
        recovery_window_s=_seconds(escalation.get("recovery_window"), 3600.0),
        quarantine_s=_seconds(escalation.get("quarantine"), 3600.0),
        channels=tuple(notifications.get("channels") or ()),
        escalate_to=tuple(notifications.get("escalate_to") or ()),
        config=config.name,
    )


def _set(config: Config, job: Job) -> bool:
    """The job's max_failures was set (file, GITHUB_MAX_FAILURES, ...), not left at default."""
    key = f"jobs.{job.name}.max_failures"
    return key in config.values and config.origin(key).source != "default"


def _seconds(value: Any, default: float) -> float:
    seconds = parse_duration(value) if value is not None else None
    return default if seconds is None else seconds


def _ints(values: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.items()}
