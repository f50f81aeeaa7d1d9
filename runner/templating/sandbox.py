"""The Jinja2 environment urs renders with: sandboxed, immutable, StrictUndefined, native
types, and bounded. Imported only when a template or a `when` is met (jinja2 costs ~35 ms).

Bounds, so that no template can hang a run or eat the machine's memory: `range()` is capped
and checks the render's deadline and the run's cancel as it is iterated; `**` and `*` refuse
results past a size; every call a template makes, and every piece of output, checks them too;
the output itself is capped. A render that runs past its deadline stops with an error; a
cancelled run stops it at once.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runner.templating import check

MAX_RANGE = 100_000  # items in one range()
MAX_ITEMS = 1_000_000  # characters or items a `*` may produce
MAX_BITS = 65_536  # bits of an integer a `**` or `*` may produce
MAX_OUTPUT = 4_000_000  # characters one render may produce
CHECK_EVERY = 256  # range items between two deadline checks


class _Range:
    """range() for templates: at most MAX_RANGE items, checking the deadline as it goes."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise SecurityError(f"range() of {len(self._range)} items; at most {MAX_RANGE}")

    def __iter__(self) -> Iterator[int]:
        for index, value in enumerate(self._range):
            if index % CHECK_EVERY == 0:
                check()
            yield value

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: int) -> int:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __reversed__(self) -> Iterator[int]:
        return reversed(list(self))


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and \
            right * abs(left).bit_length() > MAX_BITS:
        raise SecurityError(f"{left} ** {right} is too large (more than {MAX_BITS} bits)")
    return left**right


def _times(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int) and \
                len(seq) * count > MAX_ITEMS:
            raise SecurityError(f"repeating {len(seq)} items {count} times is too large "
                                f"(at most {MAX_ITEMS})")
    if isinstance(left, int) and isinstance(right, int) and \
            left.bit_length() + right.bit_length() > MAX_BITS:
        raise SecurityError(f"a product of more than {MAX_BITS} bits is too large")
    return left * right


class Environment(ImmutableSandboxedEnvironment):
    code_generator_class = NativeCodeGenerator
    template_class = NativeTemplate
    concat = staticmethod(native_concat)  # type: ignore[assignment]
    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check()
        return _power(left, right) if operator == "**" else _times(left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any,  # noqa: N805
             **kwargs: Any) -> Any:
        check()
        return super().call(__context, __obj, *args, **kwargs)


def bounded(pieces: Iterable[Any]) -> Iterator[Any]:
    """A template's output pieces, checked against the deadline and MAX_OUTPUT."""
    size = 0
    for piece in pieces:
        check()
        size += len(piece) if isinstance(piece, str) else 1
        if size > MAX_OUTPUT:
            raise SecurityError(f"the template's output passed {MAX_OUTPUT} characters")
        yield piece


def render_native(template: Template, variables: dict[str, Any]) -> Any:
    """Render as NativeTemplate.render does, with every output piece bounded."""
    context = template.new_context(variables)
    return native_concat(bounded(template.root_render_func(context)))


def _quote(value: object) -> str:
    return shlex.quote(str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = _quote
    env.globals["range"] = _Range
    return env
