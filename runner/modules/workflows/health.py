"""Each workflow's health from its latest runs: failures in a row, an overdue schedule, and
the triggers that would help (re-run failed jobs, dispatch the backup or the workflow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.modules import ModuleCall
from runner.modules.workflows import tree as files
from runner.modules.workflows.settings import Settings
from runner.modules.workflows.validate import github_cron, validate

FAILED = {"failure", "timed_out", "startup_failure"}


def _age(stamp: str | None) -> float | None:
    if not stamp:
        return None
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@dataclass
class WorkflowHealth:
    name: str
    api_path: str  # /repos/o/r/actions/workflows/ID
    runs: list[dict[str, Any]]
    max_failures: int
    dispatchable: bool = False
    backup: str = ""  # a validated <name>-backup.yml with workflow_dispatch
    interval_s: float | None = None  # the shortest gap of its cron schedules
    since_s: float | None = None  # since its last run (or its creation, when it never ran)

    @property
    def completed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r.get("status") == "completed"]

    def failed_in_row(self) -> int:
        count = 0
        for run in self.completed:
            if run.get("conclusion") not in FAILED:
                break
            count += 1
        return count

    @property
    def failing(self) -> bool:
        return self.failed_in_row() >= self.max_failures

    @property
    def overdue(self) -> bool:
        return bool(self.interval_s and self.since_s is not None
                    and self.since_s > 2 * self.interval_s)

    def problems(self) -> list[str]:
        out = []
        if self.failing:
            latest = self.completed[0]
            out.append(f"{self.name}: last {self.failed_in_row()} runs failed (latest "
                       f"#{latest.get('run_number')} {latest.get('conclusion')}, "
                       f"{_span(_age(latest.get('created_at')) or 0)} ago)")
        if self.overdue and self.interval_s and self.since_s is not None:
            out.append(f"{self.name}: scheduled run overdue (none for {_span(self.since_s)}, "
                       f"cron every {_span(self.interval_s)})")
        return out

    def triggers(self, branch: str) -> list[tuple[str, str, str]]:
        """(kind, what, POST path) of each trigger that would help."""
        base = self.api_path.rsplit("/actions/", 1)[0]
        out = []
        latest = self.runs[0] if self.runs else None
        if latest and latest.get("status") == "completed" and latest.get("conclusion") in FAILED:
            out.append(("rerun", f"re-run failed jobs of {self.name} run #"
                        f"{latest.get('run_number')}",
                        f"{base}/actions/runs/{latest['id']}/rerun-failed-jobs"))
        if self.failing and self.backup:
            out.append(("dispatch-backup", f"dispatch {self.backup} on {branch} (stands in "
                        f"for {self.name})", f"{base}/actions/workflows/{self.backup}/dispatches"))
        if self.overdue and self.dispatchable:
            out.append(("dispatch", f"dispatch {self.name} on {branch} (schedule overdue)",
                        f"{self.api_path}/dispatches"))
        return out

    def stuck(self) -> list[str]:
        """Problems no trigger can address."""
        out = []
        if self.failing and not self.backup:
            out.append(f"{self.name}: failed {self.failed_in_row()} times in a row and no "
                       "validated -backup workflow with workflow_dispatch stands in")
        if self.overdue and not self.dispatchable:
            out.append(f"{self.name}: schedule overdue and no workflow_dispatch to start it")
        return out

    def brief(self) -> dict[str, Any]:
        latest = self.runs[0] if self.runs else {}
        age = _age(latest.get("created_at"))
        return {"status": latest.get("status"), "conclusion": latest.get("conclusion"),
                "run_number": latest.get("run_number"),
                "age_s": None if age is None else round(age)}


@dataclass
class Health:
    repository: str
    branch: str
    workflows: list[WorkflowHealth] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # in the checkout, not on GitHub

    def problems(self) -> list[str]:
        return [p for w in self.workflows for p in w.problems()]

    def summary(self) -> str:
        bad = sum(1 for w in self.workflows if w.problems())
        text = (f"{self.repository}@{self.branch}: {len(self.workflows) - bad} of "
                f"{len(self.workflows)} workflows healthy")
        return text + (f"; not on GitHub: {', '.join(self.unknown)}" if self.unknown else "")

    def fields(self) -> dict[str, Any]:
        return {"repository": self.repository, "branch": self.branch,
                "runs": {w.name: w.brief() for w in self.workflows},
                "failing": [w.name for w in self.workflows if w.failing],
                "overdue": [w.name for w in self.workflows if w.overdue]}


def judge_all(call: ModuleCall, api: Any, found: Settings) -> Health:
    checkout = files.read(call, str(call.args["repo_path"]), str(call.args["backup_dir"]))
    local = {n: validate(n, item.text) for n, item in checkout.workflows.items()}
    branch = found.branch or str(api.get(api.repo_path())["default_branch"])
    remote = {w["path"]: w for w in api.pages(api.repo_path("/actions/workflows"), "workflows",
                                              per_page=100)}
    health = Health(found.repository, branch)
    for name, parsed in sorted(local.items()):
        workflow = remote.get(f"{files.WORKFLOWS}/{name}")
        if workflow is None or workflow.get("state") != "active":
            health.unknown += [name] if workflow is None else []
            continue
        path = api.repo_path(f"/actions/workflows/{workflow['id']}")
        per_page = max(int(call.args["max_failures"]), 5)
        runs = api.get(f"{path}/runs", branch=branch, per_page=per_page)["workflow_runs"]
        item = WorkflowHealth(name, path, runs, int(call.args["max_failures"]))
        _describe(item, parsed.data, local, workflow)
        health.workflows.append(item)
    return health


def _describe(item: WorkflowHealth, data: Any, local: dict[str, Any],
              workflow: dict[str, Any]) -> None:
    on = data.get("on") if isinstance(data, dict) else None
    item.dispatchable = _has_dispatch(on)
    stem, dot, suffix = item.name.rpartition(".")
    backup = local.get(f"{stem}-backup{dot}{suffix}")
    if backup is not None and not backup.findings and isinstance(backup.data, dict) \
            and _has_dispatch(backup.data.get("on")):
        item.backup = backup.name
    item.interval_s = _interval(on)
    if item.interval_s:
        scheduled = [r for r in item.runs if r.get("event") == "schedule"] or item.runs
        item.since_s = _age(scheduled[0].get("created_at") if scheduled
                            else workflow.get("created_at"))


def _has_dispatch(on: Any) -> bool:
    return on == "workflow_dispatch" or (isinstance(on, list | dict) and "workflow_dispatch" in on)


def _interval(on: Any) -> float | None:
    schedule = on.get("schedule") if isinstance(on, dict) else None
    crons = [e.get("cron") for e in schedule or [] if isinstance(e, dict)] \
        if isinstance(schedule, list) else []
    valid = [github_cron(c) for c in crons if isinstance(c, str)]
    gaps = [_gap(c) for c in valid if c is not None]
    return min(gaps) if gaps else None


def _gap(cron: str) -> float:
    """Seconds between the schedule's next two runs (GitHub reads schedules in UTC)."""
    from cronsim import CronSim

    runs = CronSim(cron, datetime.now(UTC))
    first = next(runs)
    return (next(runs) - first).total_seconds()
