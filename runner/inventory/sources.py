"""Reads `-i` sources into one Inventory: INI and YAML files, folders of them, `h1,h2,`
lists, and the `group_vars/` and `host_vars/` folders beside each source."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.errors import InputError, describe
from runner.inventory import Inventory, implicit
from runner.inventory.builder import Builder
from runner.inventory.hostrange import split_port
from runner.inventory.ini import read_ini
from runner.inventory.yamlinv import read_yaml_inventory
from runner.load import yamlfile

YAML_SUFFIXES = (".yml", ".yaml", ".json")
# what Ansible passes over in an inventory folder (INVENTORY_IGNORE_EXTS)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                    ".orig", ".cfg", ".retry")
VARS_FOLDERS = ("group_vars", "host_vars")


def load_inventory(sources: Sequence[str]) -> Inventory:
    """One inventory from every source; no source means the implicit localhost."""
    if not sources:
        return implicit()
    builder = Builder()
    bases: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if not path.exists() and "," in source:
            _host_list(builder, source)
            continue
        if not path.exists():
            raise InputError.one(source, None, "", "", "no such file",
                                 "" if path.is_absolute() else f"looked in {Path.cwd()}")
        _read_path(builder, path)
        bases.append(path if path.is_dir() else path.parent)
        builder.sources.append(str(path))
    for base in bases:
        _vars_folders(builder, base)
    return builder.build()


def _host_list(builder: Builder, source: str) -> None:
    for item in source.split(","):
        if item.strip():
            name, port = split_port(item.strip())
            builder.add_host(name, "ungrouped", port)
    builder.sources.append(source)


def _read_path(builder: Builder, path: Path) -> None:
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name in VARS_FOLDERS or child.name.startswith("."):
                continue
            if child.is_dir() or not child.name.endswith(IGNORED_SUFFIXES):
                _read_path(builder, child)
        return
    if path.suffix in YAML_SUFFIXES:
        read_yaml_inventory(builder, yamlfile.read(path), str(path))
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one(str(path), None, "-i", "a readable inventory", str(exc)) from None
    read_ini(builder, text, str(path))


def _vars_folders(builder: Builder, base: Path) -> None:
    if not (base / "group_vars").is_dir() and not (base / "host_vars").is_dir():
        return
    for name in list(builder.groups):
        found = _vars_for(base / "group_vars", name)
        if found:
            builder.groups[name].file_vars.update(found)
    for host in builder.hosts:
        found = _vars_for(base / "host_vars", host)
        if found:
            builder.host_file_vars.setdefault(host, {}).update(found)


def _vars_for(folder: Path, name: str) -> dict[str, Any]:
    """Variables from folder/name, folder/name.{yml,yaml,json} and every file in folder/name/."""
    if not folder.is_dir():
        return {}
    merged: dict[str, Any] = {}
    for candidate in [folder / name, *(folder / f"{name}{s}" for s in YAML_SUFFIXES)]:
        if candidate.is_file():
            merged.update(_vars_file(candidate))
        elif candidate.is_dir():
            for path in _files_below(candidate):
                merged.update(_vars_file(path))
    return merged


def _files_below(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root) / f for f in sorted(files)
                     if not f.startswith(".") and (Path(f).suffix in YAML_SUFFIXES
                                                   or not Path(f).suffix))
    return found


def _vars_file(path: Path) -> dict[str, Any]:
    data = yamlfile.read(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError.one(str(path), getattr(data, "line", 1), "", "a mapping of variables",
                             describe(data))
    return dict(data)
