"""The inventory as resolved: hosts with their merged variables, and groups.

Parsers (`ini`, `yamlinv`) and host patterns (`patterns`) live beside this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Host:
    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # every group the host is in, "all" and "ungrouped" aside

    @property
    def is_local(self) -> bool:
        return self.vars.get("ansible_connection") == "local"


@dataclass(frozen=True)
class Group:
    name: str
    hosts: tuple[str, ...] = ()  # hosts listed directly in this group
    children: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    hosts: Mapping[str, Host]
    groups: Mapping[str, Group]
    sources: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # for the user, as ansible-inventory warns

    @cached_property
    def members(self) -> dict[str, list[str]]:
        """Every group's hosts (`groups` in templates), computed once."""
        return {name: self.group_members(name) for name in self.groups}

    @cached_property
    def hostvars(self) -> dict[str, Mapping[str, Any]]:
        """Every host's variables (`hostvars` in templates), computed once."""
        return {h.name: h.vars for h in self.hosts.values()}

    def group_members(self, name: str) -> list[str]:
        """Every host in a group, its children's included, in inventory order."""
        if name == "all":
            return list(self.hosts)
        members: set[str] = set()
        stack, visited = [name], set()
        while stack:
            group = self.groups.get(stack.pop())
            if group is None or group.name in visited:
                continue
            visited.add(group.name)
            members.update(group.hosts)
            stack.extend(group.children)
        return [h for h in self.hosts if h in members]


LOCALHOST_VARS = {"ansible_connection": "local"}


def implicit() -> Inventory:
    """No inventory given: the control machine alone, as `localhost`, with a local connection."""
    host = Host("localhost", dict(LOCALHOST_VARS), ())
    return Inventory(hosts={"localhost": host},
                     groups={"all": Group("all", children=("ungrouped",)),
                             "ungrouped": Group("ungrouped", hosts=("localhost",))})
