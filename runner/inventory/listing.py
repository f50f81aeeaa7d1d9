"""`urs inventory --list` (the JSON of `ansible-inventory --list`) and `--graph` (its tree)."""

from __future__ import annotations

import json
from typing import Any

from runner.inventory import Inventory


def as_list(inv: Inventory) -> str:
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        if name != "all" and group.hosts:
            entry["hosts"] = list(group.hosts)
        if group.children:
            entry["children"] = list(group.children)
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)
        if entry:
            result[name] = entry

    visit("all")
    hostvars = {h.name: dict(h.vars) for h in inv.hosts.values() if h.vars}
    result["_meta"] = {"hostvars": hostvars, "profile": "inventory_legacy"}
    return json.dumps(result, sort_keys=True, indent=4, default=str)


def as_graph(inv: Inventory, group: str = "all") -> str:
    lines: list[str] = []

    def visit(name: str, depth: int) -> None:
        pad = "  |" * depth
        lines.append(f"{pad}--@{name}:" if depth else f"@{name}:")
        for child in inv.groups[name].children:
            visit(child, depth + 1)
        if name != "all":
            lines.extend(f"{pad}  |--{host}" for host in inv.groups[name].hosts)

    visit(group, 0)
    return "\n".join(lines)
