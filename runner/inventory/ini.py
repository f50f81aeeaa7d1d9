"""Ansible's INI inventory format, read as ansible-core reads it.

Sections `[group]`, `[group:vars]`, `[group:children]`; hosts before any section are
ungrouped; host lines are split like a shell line and each `key=value` is typed with
Python literal rules (`count=3` is a number, `flag=True` a boolean, `x="5"` the number 5),
while `[group:vars]` values keep their quotes (`x="5"` is the string "5").
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from runner.errors import InputError
from runner.inventory.builder import Builder, CycleError
from runner.inventory.hostrange import RangeError, expand, split_port

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_SHELL_SPECIAL = re.compile(r"[\"'\\#]")  # without them, shlex.split is str.split


_PLAIN = re.compile(r"[A-Za-z_][\w.-]*|\d+(?:\.\d+){2,}")  # names, IPs: never literals
_LITERAL_NAMES = {"True", "False", "None"}


def parse_value(text: str) -> Any:
    """An INI value as Ansible types it: a Python literal when it is one, else the text."""
    if _PLAIN.fullmatch(text) and text not in _LITERAL_NAMES:
        return text  # what literal_eval would refuse, without compiling it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _coerce(value: Any) -> Any:
    """Literal types Ansible does not keep, turned into the ones it does."""
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple | set):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    return value


class _IniReader:
    def __init__(self, builder: Builder, file: str) -> None:
        self.b, self.file = builder, file
        self.group, self.state, self.line = "ungrouped", "hosts", 0
        # groups named in [x:children] or [x:vars] before they are defined
        self.pending: dict[str, dict[str, Any]] = {}

    def fail(self, message: str, found: str = "") -> InputError:
        return InputError.one(self.file, self.line, "", message, found)

    def read(self, text: str) -> None:
        for self.line, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line and line[0] not in "#;":
                self._line(line)
        for name, decl in self.pending.items():
            self.line = decl["line"]
            if decl["state"] == "vars":
                raise self.fail(f"a group defined somewhere for [{name}:vars]", "none")
            raise self.fail(f"a defined group in [{decl['parents'][-1]}:children]", f"'{name}'")

    def _line(self, line: str) -> None:
        section = _SECTION.match(line)
        if section:
            self._section(section.group(1), section.group(2) or "hosts")
        elif line.startswith("[") and line.endswith("]"):
            raise self.fail("a section like [group], [group:vars] or [group:children]",
                            repr(line))
        elif self.state == "hosts":
            self._hosts(line)
        elif self.state == "vars":
            self._var(line)
        else:
            self._child(line)

    def _section(self, name: str, state: str) -> None:
        if state not in {"hosts", "children", "vars"}:
            raise self.fail("a section type of hosts, vars or children", f"':{state}'")
        self.group, self.state = name, state
        if name not in self.b.groups:
            if state == "vars" and name not in self.pending:
                self.pending[name] = {"line": self.line, "state": state}
            self.b.add_group(name)
        decl = self.pending.get(name)
        if decl is not None and state != "vars":
            if decl["state"] == "children":
                self._adopt(name)
            else:
                del self.pending[name]

    def _adopt(self, name: str) -> None:
        for parent in self.pending[name]["parents"]:
            self._add_child(parent, name)
            if parent in self.pending and self.pending[parent]["state"] == "children":
                self._adopt(parent)
        del self.pending[name]

    def _add_child(self, parent: str, child: str) -> None:
        try:
            self.b.add_child(parent, child)
        except CycleError as exc:
            raise self.fail("groups without cycles", str(exc)) from None

    def _hosts(self, line: str) -> None:
        try:
            tokens = line.split() if not _SHELL_SPECIAL.search(line) else \
                shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.fail("a host line with balanced quotes", f"{line!r} ({exc})") from None
        pattern, port = split_port(tokens[0])
        if tokens[0].endswith(":") and port is None:
            raise self.fail("a host name (a trailing ':' is for a port)", repr(tokens[0]))
        try:
            names = expand(pattern)
        except RangeError as exc:
            raise self.fail("a valid host range", str(exc)) from None
        variables = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep:
                raise self.fail("key=value host variables", repr(token))
            variables[key] = parse_value(value)
        for name in names:
            self.b.add_host(name, self.group, port)
            for key, value in variables.items():
                self.b.set_host_var(name, key, value)

    def _var(self, line: str) -> None:
        key, sep, value = line.partition("=")
        if not sep:
            raise self.fail("key=value", repr(line))
        self.b.set_group_var(self.group, key.strip(), parse_value(value.strip()))

    def _child(self, line: str) -> None:
        match = _GROUP_NAME.match(line)
        if not match:
            raise self.fail("a group name", repr(line))
        child = match.group(1)
        if child in self.b.groups:
            self._add_child(self.group, child)
        elif child in self.pending:
            self.pending[child].setdefault("parents", []).append(self.group)
        else:
            self.pending[child] = {"line": self.line, "state": "children",
                                   "parents": [self.group]}


def read_ini(builder: Builder, text: str, file: str) -> None:
    _IniReader(builder, file).read(text)
