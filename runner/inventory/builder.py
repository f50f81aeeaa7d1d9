"""Collects groups, hosts and variables from inventory sources, then resolves them the way
Ansible does: `all` and `ungrouped`, group depth, and variable precedence

    inventory group vars (all, then groups by depth, ansible_group_priority, name)
        < group_vars/all < group_vars/<group> (same order) < host < host_vars/<host>
"""

from __future__ import annotations

import contextlib
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


class CycleError(ValueError):
    """A group would become its own ancestor."""


class Builder:
    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.add_child("all", "ungrouped")
        self.hosts: dict[str, dict[str, Any]] = {}
        self.host_file_vars: dict[str, dict[str, Any]] = {}
        self.sources: list[str] = []

    def add_group(self, name: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name)
        return self.groups[name]

    def add_host(self, name: str, group: str | None = None, port: int | None = None) -> None:
        self.hosts.setdefault(name, {})
        if port is not None:
            self.hosts[name]["ansible_port"] = port
        if group is not None:
            members = self.add_group(group).hosts
            if name not in members:
                members.append(name)

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
        """The groups a host is in, directly or through children, `all` included."""
        direct = [g for g in self.groups.values() if host in g.hosts]
        names = {g.name for g in direct}
        for group in direct:
            names |= self._ancestors(group.name)
        return [self.groups[n] for n in self.groups if n in names]

    def reconcile(self) -> None:
        """Top-level groups become children of all; hosts in no group go to ungrouped."""
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts:
            groups = {g.name for g in self.host_groups(host)}
            if host in ungrouped.hosts and groups - {"all", "ungrouped"}:
                ungrouped.hosts.remove(host)
            elif not groups - {"all"}:
                self.add_host(host, "ungrouped")

    def host_vars(self, host: str) -> dict[str, Any]:
        ordered = sorted(self.host_groups(host), key=lambda g: (g.depth, g.priority, g.name))
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
        hosts = {
            name: Host(name, self.host_vars(name),
                       tuple(g.name for g in self.host_groups(name) if g.name != "all"))
            for name in self.ordered_hosts()
        }
        groups = {g.name: Group(g.name, tuple(g.hosts), tuple(g.children), dict(g.vars))
                  for g in self.groups.values()}
        return Inventory(hosts, groups, tuple(self.sources))
