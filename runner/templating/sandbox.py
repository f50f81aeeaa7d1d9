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
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from itertools import chain, islice
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runner.templating import TemplateFailure, check

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


def keep_types(pieces: Iterable[Any]) -> Any:
    """A lone `{{ x }}` gives x itself, text around it gives a string, and a string is never
    parsed again (jinja2's native_concat turns "1.10" into 1.1 and "0x1F" into 31; Ansible
    2.19 keeps them): only a field that takes a number converts (runner.fields.Field.coerce)."""
    head = list(islice(pieces, 2))
    if not head:
        return None
    if len(head) == 1:
        return head[0]
    return "".join(str(v) for v in chain(head, pieces))


def _quote(value: object) -> str:
    return shlex.quote(str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = _quote
    env.globals["range"] = _Range
    return env


class Failed(StrictUndefined):
    """A variable that could not be rendered: any use of it fails with the reason."""

    @property
    def message(self) -> str:
        return str(self._undefined_hint)

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TemplateFailure(self.message)


class _CodeGenerator(NativeCodeGenerator):
    def _output_const_repr(self, group: Iterable[Any]) -> str:
        """Constant output folded at compile time keeps its type too (`{{ 2 + 3 }}` is 5)."""
        return repr(keep_types(iter(list(group))))


class Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    template_class = NativeTemplate
    concat = staticmethod(keep_types)
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


class _Layered(Mapping[str, Any]):
    """The variables, then the environment's globals (range, ...), read without copying."""

    def __init__(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> None:
        self.first, self.second = first, second

    def __getitem__(self, key: str) -> Any:
        return self.first[key] if key in self.first else self.second[key]

    def __contains__(self, key: object) -> bool:
        return key in self.first or key in self.second

    def __iter__(self) -> Iterator[str]:
        yield from self.first
        yield from (k for k in self.second if k not in self.first)

    def __len__(self) -> int:
        return len(set(self.first) | set(self.second))


def render_native(template: Template, variables: Mapping[str, Any]) -> Any:
    """Render with native types, every output piece bounded. Variables are read, not copied:
    a lazy mapping (runner.templating.variables) renders only what the template uses."""
    layered = _Layered(variables, template.globals)  # jinja2 only reads it: `in` and `[]`
    context = template.new_context(layered, shared=True)  # type: ignore[arg-type]
    return keep_types(bounded(template.root_render_func(context)))
