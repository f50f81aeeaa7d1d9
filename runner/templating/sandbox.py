"""The Jinja2 environment urs renders with: sandboxed, immutable, StrictUndefined, native
types. Imported only when a template or a `when` is met (jinja2 costs ~35 ms to import)."""

from __future__ import annotations

import shlex
from functools import lru_cache

from jinja2 import StrictUndefined
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Environment(ImmutableSandboxedEnvironment):
    code_generator_class = NativeCodeGenerator
    template_class = NativeTemplate
    concat = staticmethod(native_concat)  # type: ignore[assignment]


def _quote(value: object) -> str:
    return shlex.quote(str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = _quote
    return env
