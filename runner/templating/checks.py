"""What can be known about a template before it renders: syntax, filters and tests that
exist, variables that are defined, `steps.<name>` that name a step, attribute access the
sandbox allows. Each finding is (expected, found, hint), so every caller words it the same."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from runner.errors import Problem, did_you_mean
from runner.model import Step

Finding = tuple[str, str, str]  # expected, found, hint

# Names every template may use besides the playbook's variables.
BUILTIN_NAMES = frozenset({
    "env", "steps", "inventory_hostname", "inventory_hostname_short", "group_names", "groups",
    "hostvars", "playbook_name", "check_mode",
})
BLOCKED_ATTRIBUTES = frozenset({"mro", "gi_frame", "gi_code", "cr_frame", "cr_code",
                                "ag_code", "ag_frame", "func_globals", "func_code"})
_GUARDED = r"\b{name}\b\s*(?:is\s+(?:not\s+)?(?:defined|undefined)|\|\s*(?:default|d)\b)"


def findings(code: str, known: Iterable[str] | None, steps: Iterable[str] | None = None,
             guard: str = "") -> list[Finding]:
    """Every problem of one template's source (an expression already wrapped in `{{ }}`).

    known: the variables defined outside the template (None: do not check names); steps: the
    step names `steps.<name>` may use (None: do not check). A name tested with `is defined` or
    given a `default` (here or in guard, the step's `when`) may be undefined.
    """
    from jinja2 import TemplateSyntaxError, meta, nodes

    from runner.templating.sandbox import environment

    env = environment()
    try:
        ast = env.parse(code)
    except TemplateSyntaxError as exc:
        return [("valid Jinja2", exc.message or "a syntax error", "")]
    unknown = list(_unknown_callables(ast, env.filters, env.tests, nodes))
    found = [*unknown, *_blocked(ast, nodes)]
    if steps is not None:
        found.extend(_unknown_steps(ast, set(steps), nodes))
    if known is not None:
        if unknown:  # finding names compiles the template: stand-ins for the unknown ones
            ast = _tolerant(env, ast, nodes).parse(code)
        found.extend(_undefined(meta.find_undeclared_variables(ast), set(known), code, guard))
    return found


def _tolerant(env: Any, ast: Any, nodes: Any) -> Any:
    """An environment that has every filter and test the template uses."""
    overlay = env.overlay()
    overlay.filters = {**env.filters, **{n.name: str for n in ast.find_all(nodes.Filter)}}
    overlay.tests = {**env.tests, **{n.name: bool for n in ast.find_all(nodes.Test)}}
    return overlay


def _unknown_callables(ast: Any, filters: Any, tests: Any, nodes: Any) -> Iterator[Finding]:
    for kind, node_type, names in (("filter", nodes.Filter, filters), ("test", nodes.Test, tests)):
        for node in ast.find_all(node_type):
            if node.name not in names:
                yield f"a known {kind}", f"'{node.name}'", did_you_mean(node.name, names)


def _blocked(ast: Any, nodes: Any) -> Iterator[Finding]:
    names = [n.attr for n in ast.find_all(nodes.Getattr)]
    names += [n.arg.value for n in ast.find_all(nodes.Getitem)
              if isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str)]
    for name in names:
        if name.startswith("_") or name in BLOCKED_ATTRIBUTES:
            yield ("attribute access the sandbox allows (no '_' names or internals)",
                   f"'{name}'", "")


def _unknown_steps(ast: Any, steps: set[str], nodes: Any) -> Iterator[Finding]:
    allowed = steps | {s.replace("-", "_") for s in steps}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "steps"):
            continue
        name = node.attr if isinstance(node, nodes.Getattr) else \
            node.arg.value if isinstance(node.arg, nodes.Const) else None
        if isinstance(name, str) and name not in allowed:
            yield "the name of a step in this playbook", f"steps.{name}", \
                did_you_mean(name, allowed)


def _undefined(names: set[str], known: set[str], code: str, guard: str) -> Iterator[Finding]:
    defined = known | BUILTIN_NAMES
    for name in sorted(names - defined):
        if not re.search(_GUARDED.format(name=re.escape(name)), f"{code}\n{guard}"):
            yield "a defined variable", f"'{name}'", did_you_mean(name, known)


def template_problems(file: str, steps: Iterable[Step], variables: Iterable[str] | None,
                      step_names: Iterable[str]) -> list[Problem]:
    """Every template problem of these steps of one playbook file, found before any run."""
    from runner.templating import problems_in

    problems = []
    names = set(step_names)
    known = None if variables is None else set(variables)
    for step in steps:
        for field, text, is_expression in _template_fields(step):
            line = step.line_of(field.split(".")[0])
            for expected, found, hint in problems_in(text, known, is_expression,
                                                     guard=step.when or "", steps=names):
                problems.append(Problem(file, line, f"steps[{step.index}].{field}", expected,
                                        found, hint))
    return problems


def variable_problems(file: str, sources: Mapping[str, Mapping[str, Any]],
                      variables: Iterable[str] | None, step_names: Iterable[str]) -> list[Problem]:
    """Template problems in the values of a playbook's `vars`, `defaults` and `secrets`."""
    from runner.templating import problems_in, strings_in

    problems = []
    names, known = set(step_names), None if variables is None else set(variables)
    for section, values in sources.items():
        line_of = getattr(values, "line_of", lambda _key: None)
        for name, value in values.items():
            for text in strings_in(value):
                problems += [Problem(file, line_of(name), f"{section}.{name}", expected, found,
                                     hint)
                             for expected, found, hint in problems_in(text, known,
                                                                      steps=names)]
    return problems


NOT_TEMPLATED = frozenset({"name", "description", "needs", "tags", "retries", "delay",
                           "backoff", "max_delay", "timeout", "ignore_errors", "become",
                           "become_user", "no_log", "local", "run_once", "ok_codes"})


def rejected_step_problems(file: str, index: int, node: Mapping[str, Any],
                           variables: Iterable[str] | None,
                           step_names: Iterable[str]) -> list[Problem]:
    """Template problems of a step that did not pass the schema, read from its YAML, so a
    misspelt filter is reported together with the step's misspelt key."""
    from runner.templating import is_template, problems_in, strings_in

    problems = []
    names, known = set(step_names), None if variables is None else set(variables)
    line_of = getattr(node, "line_of", lambda _key: None)
    when = node.get("when")
    guard = when if isinstance(when, str) else ""
    for key, value in node.items():
        if key in NOT_TEMPLATED:
            continue
        is_expression = key == "when" and isinstance(value, str)
        for text in [value] if is_expression else strings_in(value):
            if is_expression or is_template(text):
                problems += [Problem(file, line_of(key), f"steps[{index}].{key}", expected,
                                     found, hint)
                             for expected, found, hint in problems_in(
                                 text, known, is_expression, guard=guard, steps=names)]
    return problems


def _template_fields(step: Step) -> Iterator[tuple[str, str, bool]]:
    """(field, text, is_expression) for every templated string of a step."""
    from runner.templating import strings_in

    if step.when is not None:
        yield "when", step.when, True
    for field, action in (("action", step.action), ("recover", step.recover)):
        if action is not None:
            label = field if field == "recover" else (step.kind if action.is_shell
                                                      else action.module)
            for text in strings_in(dict(action.args)):
                yield label, text, False
    for name, value in step.env.items():
        yield f"env.{name}", value, False
    if step.cwd:
        yield "cwd", step.cwd, False
