"""Jinja2 templates in a sandbox: undefined variables are errors, values keep their types.

`{{ x }}` alone yields x itself (a number stays a number); text around it yields a string.
The `quote` filter shell-quotes a value. Rendering is bounded (runner.templating.sandbox) and
runs under a deadline and the run's cancel, set per thread with `bounded_by`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import Interrupted

FAILED_VARIABLE = ("variables refer to each other", "vars: ")  # runner.templating.variables
MAX_RENDER_S = 10.0  # no template may take longer, whatever the step's timeout



class TemplateFailure(Exception):
    """A template could not be rendered (undefined variable, bad filter argument, ...)."""


@dataclass(frozen=True)
class Limits:
    deadline: float  # time.monotonic()
    seconds: float  # what the deadline allowed, for the message
    cancel: threading.Event | None = None


_local = threading.local()


@contextlib.contextmanager
def bounded_by(deadline: float | None, cancel: threading.Event | None) -> Iterator[None]:
    """Renders in this thread end by deadline (and within MAX_RENDER_S) or when cancelled."""
    now = time.monotonic()
    end = now + MAX_RENDER_S if deadline is None else min(deadline, now + MAX_RENDER_S)
    previous = getattr(_local, "limits", None)
    _local.limits = Limits(end, max(end - now, 0.0), cancel)
    try:
        yield
    finally:
        _local.limits = previous


def check() -> None:
    """Raise when this thread's render is cancelled or past its deadline."""
    bound: Limits | None = getattr(_local, "limits", None)
    if bound is None:
        return
    if bound.cancel is not None and bound.cancel.is_set():
        raise Interrupted("interrupted")
    if time.monotonic() > bound.deadline:
        raise TemplateFailure(f"rendering took longer than {bound.seconds:.3g}s "
                              "(a loop or a value too large?)")


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render strings inside value (recursively through lists and mappings)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        from jinja2 import Undefined

        from runner.templating.sandbox import Failed, environment, render_native

        with _failures(""), _default_bounds():
            result = render_native(environment().from_string(value), context)
        if isinstance(result, Failed):  # a variable that could not be rendered, used alone
            raise TemplateFailure(result.message)
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
    from runner.templating.sandbox import environment

    with _failures("when: "), _default_bounds():
        return bool(environment().compile_expression(expression)(**context))


@contextlib.contextmanager
def _default_bounds() -> Iterator[None]:
    """MAX_RENDER_S for renders outside any `bounded_by` (plan time, variables)."""
    if getattr(_local, "limits", None) is not None:
        yield
        return
    with bounded_by(None, None):
        yield


@contextlib.contextmanager
def _failures(prefix: str) -> Iterator[None]:
    """Whatever a template raises becomes a TemplateFailure naming it; a cancel stays one."""
    from jinja2 import TemplateError, UndefinedError

    try:
        yield
    except (TemplateFailure, Interrupted):
        raise
    except UndefinedError as exc:
        if str(exc.message).startswith(FAILED_VARIABLE):  # a variable that could not render
            raise TemplateFailure(f"{prefix}{exc.message}") from None
        raise TemplateFailure(f"{prefix}undefined variable: {exc.message}") from None
    except TemplateError as exc:
        raise TemplateFailure(f"{prefix}template error: {exc.message or exc}") from None
    except (ArithmeticError, ValueError, TypeError, LookupError, MemoryError,
            RecursionError, AttributeError) as exc:
        raise TemplateFailure(f"{prefix}template error: {type(exc).__name__}: {exc}") from None


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
                guard: str = "", steps: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
    """(expected, found, hint) for each problem found in a template before it renders: syntax,
    unknown filters and tests, undefined variables, unknown `steps.<name>`, blocked attributes
    (runner.templating.checks)."""
    if not is_expression and not is_template(source):
        return []
    from runner.templating.checks import findings

    return findings("{{ " + source + " }}" if is_expression else source, known, steps, guard)
