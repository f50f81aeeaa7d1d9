"""A workflow file's YAML as data, with the line and column of every value.

GitHub reads workflows as YAML 1.2: `on:` is a key, not `true`. So the tree is built from
PyYAML's nodes by hand: only `true`/`false` are booleans, numbers and null as usual, and every
value's position is kept by its path (("jobs", "build", "steps", 0, "run") -> (line, column)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
MAX_NODES = 100_000  # aliases may repeat a subtree; a workflow never needs this many values

_INT = re.compile(r"^[-+]?[0-9]+$")
_BASED = re.compile(r"^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class Finding:
    """One problem in one file, where it is, and which check saw it."""

    file: str
    line: int
    column: int
    message: str
    source: str  # yaml, schema, semantic or actionlint

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class Parsed:
    name: str
    text: str
    data: Any = None
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)  # where each key is written
    findings: list[Finding] = field(default_factory=list)
    flagged: list[Path] = field(default_factory=list)  # where findings were made

    def where(self, path: Path) -> tuple[int, int]:
        """The position of the value at path, or of its nearest parent that has one."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def add(self, path: Path, message: str, source: str = "semantic",
            at: tuple[int, int] | None = None) -> None:
        line, column = at or self.where(path)
        self.flagged.append(path)
        self.findings.append(Finding(self.name, line, column, message, source))


def parse(name: str, text: str) -> Parsed:
    """The file's data and positions; YAML errors and an empty file become findings."""
    parsed = Parsed(name, text)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        parsed.add((), f"YAML syntax: {exc.problem or exc.context}", "yaml", at)
        return parsed
    except yaml.YAMLError as exc:
        parsed.add((), f"YAML syntax: {exc}", "yaml")
        return parsed
    if node is None:
        parsed.add((), "empty file: no workflow in it")
        return parsed
    try:
        parsed.data = _Builder(parsed).build(node, ())
    except yaml.YAMLError as exc:
        parsed.add((), f"YAML: {exc}", "yaml")
    return parsed


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise yaml.YAMLError(f"more than {MAX_NODES} values (aliases expanding?)")
        self.parsed.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.build(value_node, path)
                out.update(merged if isinstance(merged, dict) else {})
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                self.parsed.add((*path, key), f"key {key!r} is repeated", "yaml", at)
            self.parsed.keys[(*path, key)] = at
            out[key] = self.build(value_node, (*path, key))
        return out


_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOL_WORDS = {"true": True, "True": True, "TRUE": True,
               "false": False, "False": False, "FALSE": False}


def _scalar(node: yaml.Node) -> Any:
    value = str(node.value)
    if not isinstance(node, yaml.ScalarNode) or node.style or node.tag.endswith(":str"):
        return value
    if value in _NULLS:
        return None
    if value in _BOOL_WORDS:
        return _BOOL_WORDS[value]
    return _number(value)


def _number(value: str) -> Any:
    if _INT.match(value):
        return int(value)
    if _BASED.match(value):
        return int(value, 0)
    return float(value) if _FLOAT.match(value) else value
