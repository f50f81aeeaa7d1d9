"""Why a step was skipped by its `when`, in the words of the playbook: steps named as written
(`pm2-present`), not as template expressions (`steps.pm2_present`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_STEP_REF = re.compile(r"\bsteps\.(\w+)")
_ATTRIBUTE = re.compile(r"^(?P<negated>not\s+)?steps\.(?P<step>\w+)\.(?P<field>\w+)$")


def when_false(expression: str, step_names: Iterable[str]) -> str:
    """`needs pm2-present, which was not installed` for `steps.pm2_present.installed`;
    `when was false: daemon-alive.status == 'recovered'` for anything else."""
    written = {name.replace("-", "_"): name for name in step_names if "-" in name}
    expression = " ".join(expression.split())
    test = _ATTRIBUTE.match(expression)
    if test:
        name = written.get(test["step"], test["step"])
        what = test["field"].replace("_", " ")
        return f"needs {name}, which was {'' if test['negated'] else 'not '}{what}"
    return "when was false: " + _STEP_REF.sub(
        lambda ref: written.get(ref[1], ref[1]), expression)
