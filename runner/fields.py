"""Field specifications shared by the playbook schema and module arguments.

A `Field` says what kind of value a key takes; `check` returns what was expected when a value
does not fit, so every caller reports problems the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float | None:
    """Seconds from `2s`, `500ms`, `1.5m`, `1h`, `1d` or a bare number; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT[match.group(2)]
    return None


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_str_list(v: object) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))


def _is_scalar_map(v: object) -> bool:
    return isinstance(v, dict) and all(
        isinstance(i, str | int | float | bool) for i in v.values()
    )


def _is_int_list(v: object) -> bool:
    return _is_int(v) or (isinstance(v, list) and all(_is_int(i) for i in v))


def _is_port_list(v: object) -> bool:
    ports = v if isinstance(v, list) else [v]
    return bool(ports) and all(_is_int(p) and 1 <= p <= 65535 for p in ports)  # type: ignore[operator]


KINDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("a string", _is_str),
    "int": ("a whole number", _is_int),
    "number": ("a number", _is_number),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "duration": ("a duration like 2s, 500ms or 1m", lambda v: parse_duration(v) is not None),
    "names": ("a name or a list of names", _is_str_list),
    "mapping": ("a mapping", lambda v: isinstance(v, dict)),
    "env": ("a mapping of names to plain values", _is_scalar_map),
    "codes": ("an exit code or a list of exit codes", _is_int_list),
    "ports": ("a port (1 to 65535) or a list of ports", _is_port_list),
    "list": ("a list", lambda v: isinstance(v, list)),
    "when": ("an expression (a string) or true/false", lambda v: isinstance(v, str | bool)),
    "any": ("a value", lambda v: True),
}


@dataclass(frozen=True)
class Field:
    kind: str
    doc: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    default: Any = None

    def check(self, value: object) -> str | None:
        """None when the value fits, else a description of what was expected."""
        expected, fits = KINDS[self.kind]
        if isinstance(value, str) and "{{" in value and self.kind not in {"names", "when"}:
            return None  # checked once rendered
        if not fits(value):
            return expected
        if self.choices and value not in self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return self._check_range(value)

    def coerce(self, value: Any) -> Any:
        """A rendered template's text as the kind this field takes (`-e` values are text)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if self.kind == "bool" and text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        if self.kind == "ports":
            return _ports(text) or value
        if self.kind in {"int", "number"}:
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if self.kind == "int" and number.is_integer() else number
        return value

    def _check_range(self, value: object) -> str | None:
        number = parse_duration(value) if self.kind == "duration" else value
        if not isinstance(number, int | float):
            return None
        if self.minimum is not None and number < self.minimum:
            return f"{KINDS[self.kind][0]} >= {self.minimum:g}"
        if self.maximum is not None and number > self.maximum:
            return f"{KINDS[self.kind][0]} <= {self.maximum:g}"
        return None


def _ports(text: str) -> list[int] | int | None:
    """Ports from text like `22`, `22 80` or `22,80`; None unless every word is a number."""
    words = text.replace(",", " ").split()
    if not words or not all(w.isdigit() for w in words):
        return None
    return int(words[0]) if len(words) == 1 else [int(w) for w in words]


def with_defaults(fields: Mapping[str, Field], args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments with each missing or empty one (a template that rendered to "") set to its
    field's default, so modules read `args[key]` and never repeat a default."""
    filled = dict(args)
    for key, field in fields.items():
        if field.default is not None and filled.get(key) in (None, ""):
            filled[key] = field.default
    return filled


def as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


Fields = Mapping[str, Field]
