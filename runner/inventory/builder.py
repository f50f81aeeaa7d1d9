"""Collects groups, hosts and variables from inventory sources, then resolves them the way
Ansible does: `all` and `ungrouped`, group depth, and variable precedence

    inventory group vars (all, then groups by depth, ansible_group_priority, name)
        < group_vars/all < group_vars/<group> (same order) < host < host_vars/<host>
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from runner.inventory import Group, Host, Inventory


@dataclass
class _Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    file_vars: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    priority: int = 1
    members: set[str] = field(default_factory=set)  # hosts, for O(1) membership


# what Ansible calls an invalid group name: not a Python identifier (TRANSFORM_INVALID_GROUP_CHARS)
INVALID_GROUP_NAME = re.compile(r"^[\d\W]|[^\w]", re.ASCII)


class CycleError(ValueError):
    """A group would become its own ancestor."""


class Builder:
    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.add_child("all", "ungrouped")
        self.hosts: dict[str, dict[str, Any]] = {}
        self.direct: dict[str, list[str]] = {}  # host -> the groups that list it
        self.host_file_vars: dict[str, dict[str, Any]] = {}
        self.sources: list[str] = []
        self._positions: dict[str, int] = {}
        self.invalid_names: list[str] = []  # kept as written, as ansible-inventory 2.19 does

    def add_group(self, name: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name)
            if INVALID_GROUP_NAME.search(name):
                self.invalid_names.append(name)
        return self.groups[name]

    def add_host(self, name: str, group: str | None = None, port: int | None = None) -> None:
        self.hosts.setdefault(name, {})
        if port is not None:
            self.hosts[name]["ansible_port"] = port
        if group is not None:
            target = self.add_group(group)
            if name not in target.members:
                target.members.add(name)
                target.hosts.append(name)
                self.direct.setdefault(name, []).append(group)

    def set_host_var(self, host: str, key: str, value: Any) -> None:
        self.hosts.setdefault(host, {})[key] = value

    def set_group_var(self, group: str, key: str, value: Any) -> None:
        if key == "ansible_group_priority":  # orders groups; not a variable (as in Ansible)
            with contextlib.suppress(TypeError, ValueError):
                self.add_group(group).priority = int(value)
            return
        self.add_group(group).vars[key] = value

    def add_child(self, parent: str, child: str) -> None:
        up, down = self.add_group(parent), self.add_group(child)
        if child in up.children:
            return
        if child == parent or child in self._ancestors(parent):
            raise CycleError(f"adding {child} to {parent} would make a group its own ancestor")
        up.children.append(child)
        down.parents.append(parent)
        self._deepen(down, up.depth + 1)

    def _deepen(self, group: _Group, depth: int) -> None:
        if depth > group.depth:
            group.depth = depth
            for child in group.children:
                self._deepen(self.groups[child], depth + 1)

    def _ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.groups[name].parents) if name in self.groups else []
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                stack.extend(self.groups[parent].parents)
        return seen

    def host_groups(self, host: str) -> list[_Group]:
        """The groups a host is in, directly or through children, `all` included, in the
        order the groups were defined."""
        names = set(self.direct.get(host, ()))
        for group in list(names):
            names |= self._ancestors(group)
        ordered = sorted(names, key=self._position().__getitem__)
        return [self.groups[n] for n in ordered]

    def _position(self) -> dict[str, int]:
        if len(self._positions) != len(self.groups):
            self._positions = {name: index for index, name in enumerate(self.groups)}
        return self._positions

    def reconcile(self) -> None:
        """Top-level groups become children of all; hosts in no group go to ungrouped."""
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts:
            groups = {g.name for g in self.host_groups(host)}
            if host in ungrouped.members and groups - {"all", "ungrouped"}:
                ungrouped.hosts.remove(host)
                ungrouped.members.discard(host)
                self.direct[host].remove("ungrouped")
            elif not groups - {"all"}:
                self.add_host(host, "ungrouped")

    def host_vars(self, host: str, groups: list[_Group] | None = None) -> dict[str, Any]:
        in_groups = self.host_groups(host) if groups is None else groups
        ordered = sorted(in_groups, key=lambda g: (g.depth, g.priority, g.name))
        merged: dict[str, Any] = {}
        for group in ordered:
            merged.update(group.vars)
        for group in ordered:
            merged.update(group.file_vars)
        return {**merged, **self.hosts[host], **self.host_file_vars.get(host, {})}

    def ordered_hosts(self) -> list[str]:
        """Hosts as Ansible lists `all`: group by group, breadth first from `all`."""
        order: dict[str, None] = {}
        queue, seen = ["all"], {"all"}
        while queue:
            group = self.groups[queue.pop(0)]
            order.update(dict.fromkeys(group.hosts))
            fresh = [c for c in group.children if c not in seen]
            seen.update(fresh)
            queue.extend(fresh)
        return list(order)

    def build(self) -> Inventory:
        self.reconcile()
        hosts = {}
        for name in self.ordered_hosts():
            found = self.host_groups(name)
            hosts[name] = Host(name, self.host_vars(name, found),
                               tuple(g.name for g in found if g.name != "all"))
        groups = {g.name: Group(g.name, tuple(g.hosts), tuple(g.children), dict(g.vars))
                  for g in self.groups.values()}
        return Inventory(hosts, groups, tuple(self.sources), self._warnings())

    def _warnings(self) -> tuple[str, ...]:
        if not self.invalid_names:
            return ()
        return ("warning: invalid characters were found in group names but not replaced "
                "(as ansible-inventory does by default): " + ", ".join(self.invalid_names),)
