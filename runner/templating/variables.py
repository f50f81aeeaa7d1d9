"""Variables as Ansible renders them: every source merged by precedence first, then each value
rendered when it is used, so a variable may refer to one defined later, in another source or
overridden by `-e`. A variable that refers to itself, directly or through others, is a loop
named by its path (`a -> b -> a`); a variable that cannot be rendered fails only the steps
that use it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runner.templating import FAILED_VARIABLE, TemplateFailure, is_template, render


class Resolver(Mapping[str, Any]):
    """Rendered variables, each rendered once on first use; `plain` ones are never rendered
    (the environment, hostvars, step results)."""

    def __init__(self, raw: Mapping[str, Any], plain: Mapping[str, Any]) -> None:
        self._raw, self._plain = raw, plain
        self._done: dict[str, Any] = {}
        self._failed: dict[str, str] = {}
        self._stack: list[str] = []

    def __getitem__(self, name: str) -> Any:
        if name in self._plain and name not in self._raw:
            return self._plain[name]
        if name in self._done:
            return self._done[name]
        if name in self._failed:
            raise TemplateFailure(self._failed[name])
        if name not in self._raw:
            raise KeyError(name)
        return self._resolve(name)

    def _resolve(self, name: str) -> Any:
        if name in self._stack:
            path = " -> ".join([*self._stack[self._stack.index(name):], name])
            raise TemplateFailure(f"{FAILED_VARIABLE[0]} in a loop: {path}")
        self._stack.append(name)
        try:
            value = self._raw[name]
            self._done[name] = render(value, self) if _templated(value) else value
        except TemplateFailure as exc:
            message = str(exc)
            if not message.startswith(FAILED_VARIABLE):  # the first variable to fail names itself
                message = f"vars: {name}: {message}"
            self._failed[name] = message
            raise TemplateFailure(message) from None
        finally:
            self._stack.pop()
        return self._done[name]

    def __contains__(self, name: object) -> bool:
        return name in self._raw or name in self._plain

    def __iter__(self) -> Iterator[str]:
        yield from self._raw
        yield from (k for k in self._plain if k not in self._raw)

    def __len__(self) -> int:
        return len(set(self._raw) | set(self._plain))

    def resolved(self) -> dict[str, Any]:
        """Every variable rendered; one that failed becomes a value that fails when used."""
        out: dict[str, Any] = dict(self._plain)
        for name in self._raw:
            try:
                out[name] = self[name]
            except TemplateFailure as exc:
                from runner.templating.sandbox import Failed

                out[name] = Failed(str(exc), name=name)
        return out


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


def resolve(layers: list[Mapping[str, Any]], plain: Mapping[str, Any]) -> dict[str, Any]:
    """Variables from layers (lowest precedence first) rendered as Ansible renders them."""
    raw: dict[str, Any] = {}
    for layer in layers:
        raw.update(layer)
    return Resolver(raw, plain).resolved()
