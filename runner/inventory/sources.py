"""Reads `-i` sources into one Inventory: INI and YAML files, folders, `h1,h2,` lists."""

from __future__ import annotations

from collections.abc import Sequence

from runner.errors import InputError
from runner.inventory import Group, Host, Inventory, implicit


def load_inventory(sources: Sequence[str]) -> Inventory:
    if not sources:
        return implicit()
    hosts: dict[str, Host] = {}
    for source in sources:
        if "," not in source:
            raise InputError.one(source, None, "-i", "an inventory", "a format not read yet")
        for name in (n.strip() for n in source.split(",")):
            if name:
                hosts[name] = Host(name, {})
    return Inventory(hosts, {"all": Group("all", children=("ungrouped",)),
                             "ungrouped": Group("ungrouped", hosts=tuple(hosts))},
                     tuple(sources))
