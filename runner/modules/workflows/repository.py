"""The `valid` and `backed_up` states: a checkout's workflow files, judged and repaired.

`valid`: every workflow validates and none listed in the backup index is missing; apply
restores the broken and missing ones from good backups, then reads them again to verify.
`backed_up`: every valid workflow has a current backup; apply refreshes the stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.workflows import actionlint, backups
from runner.modules.workflows import tree as files
from runner.modules.workflows.parse import Finding
from runner.modules.workflows.tree import Tree
from runner.modules.workflows.validate import validate

MAX_LISTED = 50  # findings kept in fields: enough to act on, small enough for the store


@dataclass
class Survey:
    """One look at the checkout: each workflow's findings, and what is missing."""

    tree: Tree
    index: dict[str, dict[str, Any]]
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        """Every workflow with a finding, urs's own or actionlint's, and every missing one."""
        return sorted([n for n, f in self.findings.items() if f] + self.missing)

    @property
    def broken(self) -> list[str]:
        """What restore may replace: missing, or failing urs's own checks. A file only
        actionlint flags (an old action version, a shellcheck remark) is reported, not
        replaced by an older copy."""
        own = [n for n, f in self.findings.items() if any(i.source != "actionlint" for i in f)]
        return sorted(own + self.missing)

    @property
    def valid(self) -> list[str]:
        return sorted(n for n, f in self.findings.items() if not f)

    def stand_ins(self) -> dict[str, str]:
        """Each broken primary whose `<name>-backup.yml` validates, with that backup."""
        found = {}
        for name in self.broken:
            stem, dot, suffix = name.rpartition(".")
            backup = f"{stem}-backup{dot}{suffix}"
            if backup in self.valid:
                found[name] = backup
        return found


def survey(call: ModuleCall) -> Survey:
    tree = files.read(call, str(call.args["repo_path"]), str(call.args["backup_dir"]))
    index = backups.read_index(tree)
    found = Survey(tree, index)
    for name, item in sorted(tree.workflows.items()):
        found.findings[name] = validate(name, item.text).findings
    found.missing = sorted(n for n in index if n not in tree.workflows)
    if tree.workflows:
        extra, note = actionlint.lint(call, tree)
        for finding in extra:
            found.findings.setdefault(finding.file, []).append(finding)
        found.notes += [note] if note else []
    return found


def nothing_here(call: ModuleCall, found: Survey) -> ActionResult | None:
    repo = found.tree.repo
    if not found.tree.repo_exists:
        return ActionResult(False, reason=f"repo_path {repo} does not exist on {call.host}")
    if found.tree.workflows or found.missing:
        return None
    where = "" if found.tree.has_workflows else f" (no {files.WORKFLOWS} in {repo})"
    return ActionResult(True, stdout=f"no workflows here{where}", fields={"workflows": 0})


def check_valid(call: ModuleCall) -> ActionResult:
    found = survey(call)
    empty = nothing_here(call, found)
    if empty is not None:
        return empty
    if found.broken and call.mode is Mode.APPLY:
        return _restore(call, found)
    return _valid_result(found, plan=call.mode is Mode.CHECK)


def _valid_result(found: Survey, plan: bool, extra: str = "") -> ActionResult:
    problems = [_first(found, n) for n in found.flagged]
    problems += [f"{b} stands in for {p}" for p, b in found.stand_ins().items()]
    if plan:
        problems += [_plan(found, n) for n in found.broken]
    lines = [str(f) for n in sorted(found.findings) for f in found.findings[n]]
    lines += [f"{n}: missing (listed in the backup index)" for n in found.missing]
    ok = not found.flagged
    summary = f"{len(found.valid)} of {len(found.findings)} workflows valid"
    stdout = "\n".join([summary, *found.notes, *lines, *([extra] if extra else [])])
    return ActionResult(ok, stdout=stdout, reason="" if ok else "; ".join(problems),
                        fields=_fields(found))


def _first(found: Survey, name: str) -> str:
    if name in found.missing:
        return f"{name} is missing"
    issues = found.findings[name]
    more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{issues[0]}{more}"


def _plan(found: Survey, name: str) -> str:
    state = backups.judge(found.tree, found.index, name)
    return f"{name}: {state.problem}" if state.problem else \
        f"would restore {name} from its backup of {state.entry.get('taken_at', '?')}"


def _fields(found: Survey) -> dict[str, Any]:
    listed = [str(f) for n in sorted(found.findings) for f in found.findings[n]][:MAX_LISTED]
    return {"workflows": len(found.findings), "valid": found.valid,
            "invalid": sorted(n for n, f in found.findings.items() if f),
            "missing": found.missing, "findings": listed, "stand_ins": found.stand_ins()}


def _restore(call: ModuleCall, found: Survey) -> ActionResult:
    done, refused = [], []
    for name in found.broken:
        state = backups.judge(found.tree, found.index, name)
        if state.problem:
            refused.append(state.problem)
            continue
        kept = backups.restore(call, found.tree, state)
        done.append(f"restored {name}" + (f" (broken file kept as {kept})" if kept else ""))
    again = survey(call)
    result = _valid_result(again, plan=False, extra="; ".join(done))
    reason = "; ".join([*refused, result.reason]) if not result.ok else ""
    fields = {**result.fields, "restored": [d.split()[1] for d in done]}
    return ActionResult(result.ok, stdout=result.stdout, changed=bool(done), reason=reason,
                        fields=fields)


def check_backed_up(call: ModuleCall) -> ActionResult:
    tree = files.read(call, str(call.args["repo_path"]), str(call.args["backup_dir"]))
    index = backups.read_index(tree)
    if not tree.workflows:
        return nothing_here(call, Survey(tree, index)) or ActionResult(True)
    stale = {n: why for n in sorted(tree.workflows) if (why := backups.current(tree, index, n))}
    invalid = [n for n in stale if validate(n, tree.workflows[n].text).findings]
    todo = [n for n in stale if n not in invalid]
    if todo and call.mode is Mode.APPLY:
        return _refresh(call, tree, todo)
    problems = [stale[n] for n in todo]
    if call.mode is Mode.CHECK and todo:
        problems.append(f"would back up {', '.join(todo)}")
    valid = len(tree.workflows) - len(invalid)
    text = f"{valid - len(todo)} of {valid} valid workflows backed up"
    if invalid:
        text += f"; not backed up while invalid: {', '.join(invalid)}"
    return ActionResult(not todo, stdout=text, reason="; ".join(problems),
                        fields={"stale": todo, "not_backed_up": invalid})


def _refresh(call: ModuleCall, tree: Tree, names: list[str]) -> ActionResult:
    backups.refresh(call, tree, names)
    again = files.read(call, tree.repo, tree.backup_dir)
    index = backups.read_index(again)
    left = [n for n in names if n in again.workflows and backups.current(again, index, n)]
    return ActionResult(not left, changed=True, stdout=f"backed up {', '.join(names)}",
                        reason=f"still not backed up: {', '.join(left)}" if left else "",
                        fields={"backed_up": names})
