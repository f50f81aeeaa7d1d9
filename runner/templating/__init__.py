"""Jinja2 templates in a sandbox: undefined variables are errors, values keep their types.

`{{ x }}` alone yields x itself (a number stays a number); text around it yields a string.
The `quote` filter shell-quotes a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Names every template may use besides the playbook's variables.
BUILTIN_NAMES = frozenset({
    "env", "steps", "inventory_hostname", "inventory_hostname_short", "group_names", "groups",
    "hostvars", "playbook_name", "check_mode",
})
_GUARDED = r"\b{name}\b\s*(?:is\s+(?:not\s+)?(?:defined|undefined)|\|\s*(?:default|d)\b)"


class TemplateFailure(Exception):
    """A template could not be rendered (undefined variable, bad filter argument, ...)."""


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render strings inside value (recursively through lists and mappings)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        from jinja2 import TemplateError, Undefined, UndefinedError

        from runner.templating.sandbox import environment

        try:
            result = environment().from_string(value).render(context)
        except UndefinedError as exc:
            raise TemplateFailure(f"undefined variable: {exc.message}") from None
        except TemplateError as exc:
            raise TemplateFailure(f"template error: {exc.message or exc}") from None
        if isinstance(result, Undefined):  # a lone `{{ x }}` hands back the Undefined itself
            raise TemplateFailure(f"undefined variable: {result._undefined_message}")
        return result
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def evaluate(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a `when` expression to true or false."""
    from jinja2 import TemplateError, UndefinedError

    from runner.templating.sandbox import environment

    try:
        return bool(environment().compile_expression(expression)(**context))
    except UndefinedError as exc:
        raise TemplateFailure(f"undefined variable in when: {exc.message}") from None
    except TemplateError as exc:
        raise TemplateFailure(f"when: {exc.message or exc}") from None


def text(value: Any) -> str:
    """A rendered value as command text."""
    return value if isinstance(value, str) else str(value)


def strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def problems_in(source: str, known: Iterable[str] | None, is_expression: bool = False,
                guard: str = "") -> list[tuple[str, str, str]]:
    """(expected, found, undefined name) for each syntax error or name used but never defined.

    A name tested with `is defined` or given a `default` (here or in guard, the step's `when`)
    may be undefined.
    """
    if not is_expression and not is_template(source):
        return []
    from jinja2 import TemplateSyntaxError, meta

    from runner.templating.sandbox import environment

    code = "{{ " + source + " }}" if is_expression else source
    try:
        ast = environment().parse(code)
    except TemplateSyntaxError as exc:
        return [("valid Jinja2", exc.message or "a syntax error", "")]
    if known is None:
        return []
    known_names = set(known) | BUILTIN_NAMES
    return [
        ("a defined variable", f"'{name}'", name)
        for name in sorted(meta.find_undeclared_variables(ast))
        if name not in known_names
        and not re.search(_GUARDED.format(name=re.escape(name)), f"{code}\n{guard}")
    ]
