"""`-e` variables checked against the playbooks: a value of the wrong type for a variable's
default is an error (`max_disk_percent=abc` is not 0), text that reads as the default's type
becomes that type (`max_disk_percent=90` is the number 90), and a variable nothing uses is a
warning with a did-you-mean."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from runner.errors import Problem, did_you_mean
from runner.fields import Field
from runner.model import Playbook, Step
from runner.templating import strings_in

_KINDS = {bool: ("bool", "true or false"), int: ("int", "a whole number"),
          float: ("number", "a number")}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def typed(book: Playbook, variables: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """-e values as the types of the playbooks' defaults and vars, and the ones that cannot be."""
    typed_vars, problems = dict(variables), []
    declared = _declared(book)
    for name, value in variables.items():
        if name not in declared:
            continue
        default, path = declared[name]
        kind, expected = _KINDS[type(default)]
        converted = Field(kind, "").coerce(value)
        if type(converted) is type(default) or (kind == "number" and type(converted) is int):
            typed_vars[name] = converted
        else:
            problems.append(Problem("-e", None, name, f"{expected} (the default of '{name}' in "
                                    f"{path} is {json.dumps(default)})", repr(value)))
    return typed_vars, problems


def _declared(book: Playbook) -> dict[str, tuple[Any, str]]:
    """Variables whose playbook value is a plain number or boolean, with the file."""
    found: dict[str, tuple[Any, str]] = {}
    for each in book.flatten():
        for source in (each.defaults, each.vars):
            for name, value in source.items():
                if type(value) in _KINDS:
                    found.setdefault(name, (value, each.path))
    return found


def unused(book: Playbook, variables: Mapping[str, Any]) -> list[str]:
    """A warning for each -e variable that no playbook declares or uses in a template."""
    used = set(_used_names(book))
    names = {n for each in book.flatten() for source in (each.defaults, each.vars,
                                                         each.secrets) for n in source}
    notices = []
    for name in variables:
        if name in used or name in names or name.startswith("ansible_"):
            continue
        hint = did_you_mean(name, used | names)
        notices.append(f"warning: -e {name}: no playbook uses it" + (f" ({hint})" if hint
                                                                      else ""))
    return notices


def _used_names(book: Playbook) -> Iterator[str]:
    for each in book.flatten():
        for source in (each.defaults, each.vars, each.secrets):
            yield from _names_in(strings_in(source))
        for step in each.steps:
            yield from _names_in(_step_texts(step))


def _step_texts(step: Step) -> Iterator[str]:
    if step.when is not None:
        yield "{{ " + step.when + " }}"
    for action in (step.action, step.recover):
        if action is not None:
            yield from strings_in(dict(action.args))
    yield from step.env.values()
    if step.cwd:
        yield step.cwd


def _names_in(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if "{{" in text or "{%" in text:
            yield from _NAME.findall(text)
