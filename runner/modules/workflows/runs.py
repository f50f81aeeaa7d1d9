"""The `runs` state: each workflow's latest runs on the branch, from the GitHub API.

Check: a workflow whose last `max_failures` runs all failed, or whose schedule is overdue (no
run for twice its cron interval), fails the check, named. Apply: re-run the failed jobs of a
failed latest run; dispatch `<name>-backup.yml` (validated, with `workflow_dispatch`) when the
primary failed `max_failures` times in a row; dispatch an overdue workflow that has
`workflow_dispatch`. At most `max_triggers` per workflow per window, counted in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.fields import parse_duration
from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.workflows import settings
from runner.modules.workflows.health import Health, judge_all


@dataclass
class Plan:
    """The triggers recovery makes, and what it may not do (with why)."""

    triggers: list[tuple[str, str, str, str]] = field(default_factory=list)  # kind, for, what, path
    refused: list[str] = field(default_factory=list)


def check_runs(call: ModuleCall) -> ActionResult:
    found = settings.resolve(call)
    if isinstance(found, str):
        return ActionResult(False, skipped=True, reason=found)
    from runner.modules.workflows.github import GitHub

    call.secret(found.token)
    api = GitHub(call, found.token, found.api_url, found.repository, found.timeout)
    try:
        health = judge_all(call, api, found)
        if call.mode is Mode.CHECK:
            todo = plan(call, health)
            return _report(health, [f"would {what}" for _, _, what, _ in todo.triggers])
        return _recover(call, api, health)
    finally:
        api.close()


def _report(health: Health, notes: list[str] | None = None) -> ActionResult:
    """Health as it is; notes (what recovery would do) are shown, and named in the reason
    when something is wrong."""
    problems = health.problems()
    text = "\n".join([health.summary(), *problems, *(notes or [])])
    reason = "; ".join(problems + (notes or [])) if problems else ""
    return ActionResult(not problems, stdout=text, reason=reason, fields=health.fields())


def plan(call: ModuleCall, health: Health) -> Plan:
    window = parse_duration(call.args["trigger_window"]) or 86400.0
    cap = int(call.args["max_triggers"])
    out = Plan()
    for item in health.workflows:
        wanted = item.triggers(health.branch)
        done = sum(call.actions_since(kind, item.name, window)
                   for kind in ("rerun", "dispatch-backup", "dispatch"))
        for kind, what, path in wanted:
            if done >= cap:
                out.refused.append(f"{item.name}: {what} withheld, {done} triggers within "
                                   f"{call.args['trigger_window']} (max_triggers {cap})")
                continue
            done += 1
            out.triggers.append((kind, item.name, what, path))
        out.refused += item.stuck()
    return out


def _recover(call: ModuleCall, api: Any, health: Health) -> ActionResult:
    from runner.modules.workflows.github import ApiError

    todo = plan(call, health)
    if not call.args["auto_trigger"]:
        would = [f"would {what} (auto trigger is off)" for _, _, what, _ in todo.triggers]
        return _report(health, would + todo.refused)
    actions: list[dict[str, str]] = []
    for kind, name, what, path in todo.triggers:
        body: dict[str, Any] = {} if kind == "rerun" else {"ref": health.branch}
        try:
            api.post(path, body)
        except ApiError as exc:
            if not actions:
                raise
            # what was triggered before the failure still counts against the cap
            todo.refused.append(f"{what} failed: {exc}")
            break
        actions.append({"kind": kind, "target": name, "done": what})
    done = [a["done"] for a in actions]
    fields = {**health.fields(), "actions": actions}
    ok = not todo.refused
    text = "\n".join([health.summary(), *done])
    return ActionResult(ok, changed=bool(actions), stdout=text,
                        reason="" if ok else "; ".join([*done, *todo.refused]), fields=fields)
