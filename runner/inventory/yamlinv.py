"""Ansible's YAML inventory format: groups at the top level, each with `hosts`, `vars` and
`children`; a wrong shape is an error naming the file and line."""

from __future__ import annotations

from typing import Any

from runner.errors import InputError, describe, did_you_mean
from runner.inventory.builder import Builder, CycleError
from runner.inventory.hostrange import RangeError, expand, split_port
from runner.load.yamlfile import Node

SECTIONS = ("hosts", "vars", "children")


class _YamlReader:
    def __init__(self, builder: Builder, file: str) -> None:
        self.b, self.file = builder, file

    def fail(self, line: int, field: str, expected: str, found: str) -> InputError:
        return InputError.one(self.file, line, field, expected, found)

    def read(self, data: Any) -> None:
        if not isinstance(data, Node) or not data:
            found = "an empty file" if not data else describe(data)
            raise self.fail(getattr(data, "line", 1), "", "a mapping of groups (like all:)", found)
        if "plugin" in data:
            raise self.fail(data.line_of("plugin"), "plugin",
                            "a YAML inventory (inventory plugins are not supported)", "plugin:")
        for name, body in data.items():
            self._group(name, body, data.line_of(name), name)

    def _group(self, name: str, body: Any, line: int, where: str) -> str:
        self.b.add_group(name)
        if body is None:
            return name
        if not isinstance(body, Node):
            raise self.fail(line, where, "a group (a mapping of hosts, vars, children)",
                            describe(body))
        for key in body:
            self._section(name, key, self._mapping(body, key, f"{where}.{key}"),
                          body.line_of(key), f"{where}.{key}")
        return name

    def _mapping(self, body: Node, key: str, where: str) -> Any:
        value = body[key]
        if key not in SECTIONS:
            raise InputError.one(self.file, body.line_of(key), where, "hosts, vars or children",
                                 f"'{key}'", did_you_mean(key, SECTIONS))
        if isinstance(value, str):
            return {value: None}
        if value is not None and not isinstance(value, dict):
            raise self.fail(body.line_of(key), where, "a mapping", describe(value))
        return value or {}

    def _section(self, group: str, key: str, items: Any, line: int, where: str) -> None:
        lines = items.line_of if isinstance(items, Node) else (lambda _k: line)
        for item, value in items.items():
            if key == "vars":
                self.b.set_group_var(group, item, value)
            elif key == "children":
                child = self._group(item, value, lines(item), f"{where}.{item}")
                try:
                    self.b.add_child(group, child)
                except CycleError as exc:
                    raise self.fail(lines(item), where, "groups without cycles", str(exc)) from None
            else:
                self._hosts(group, item, value, lines(item), f"{where}.{item}")

    def _hosts(self, group: str, pattern: str, variables: Any, line: int, where: str) -> None:
        if variables is not None and not isinstance(variables, dict):
            raise self.fail(line, where, "host variables (a mapping)", describe(variables))
        host, port = split_port(str(pattern))
        try:
            names = expand(host)
        except RangeError as exc:
            raise self.fail(line, where, "a valid host range", str(exc)) from None
        for name in names:
            self.b.add_host(name, group, port)
            for key, value in (variables or {}).items():
                self.b.set_host_var(name, key, value)


def read_yaml_inventory(builder: Builder, data: Any, file: str) -> None:
    _YamlReader(builder, file).read(data)
