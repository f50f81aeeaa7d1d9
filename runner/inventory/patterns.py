"""Ansible host patterns: names, groups, globs, `~regex`, `a:b`, `a:&b`, `a:!b`, `a,b`,
`group[0]` / `group[1:3]` slices and (for --limit) `@file` of names."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from runner.errors import InputError
from runner.inventory import Inventory

_SLICE = re.compile(r"^(?P<name>.+?)\[(?P<start>-?\d*)(?::(?P<end>-?\d*))?\]$")


def split(pattern: str) -> list[str]:
    """Terms of a pattern: commas win; colons split unless the term is a regex or IPv6."""
    if "," in pattern:
        return [t.strip() for t in pattern.split(",") if t.strip()]
    if pattern.startswith("~") or pattern.count(":") > 2:
        return [pattern]
    terms, depth, current = [], 0, ""
    for char in pattern:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == ":" and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [t for t in [*terms, current] if t]


def select(inv: Inventory, pattern: str, source: str = "hosts") -> list[str]:
    """Host names matching pattern, in inventory order; an error when none match."""
    terms = _expand_files(split(pattern.strip()), source)
    union: list[str] = []
    intersect: list[set[str]] = []
    exclude: set[str] = set()
    for term in terms:
        if term.startswith("!"):
            exclude.update(_term(inv, term[1:], source))
        elif term.startswith("&"):
            intersect.append(set(_term(inv, term[1:], source)))
        else:
            union.extend(_term(inv, term, source))
    chosen = set(union)
    for group in intersect:
        chosen &= group
    chosen -= exclude
    found = [h for h in inv.hosts if h in chosen]
    if not found:
        raise InputError.one(source, None, "", "a pattern matching at least one host",
                             f"'{pattern}', which matches none")
    return found


def _expand_files(terms: list[str], source: str) -> list[str]:
    out: list[str] = []
    for term in terms:
        if not term.startswith("@"):
            out.append(term)
            continue
        try:
            names = Path(term[1:]).read_text(encoding="utf-8").split()
        except OSError as exc:
            raise InputError.one(term[1:], None, source, "a readable file of host names",
                                 str(exc)) from None
        out.extend(names)
    return out


def _term(inv: Inventory, term: str, source: str) -> list[str]:
    if term in {"all", "*"}:
        return list(inv.hosts)
    if term in inv.hosts or term in inv.groups:
        return [term] if term in inv.hosts else inv.group_members(term)
    if term.startswith("~"):
        return _regex(inv, term[1:], source)
    sliced = _SLICE.match(term)
    if sliced and sliced.group("name") in inv.groups:
        return _slice(inv.group_members(sliced.group("name")), sliced)
    return _glob(inv, term) if any(c in term for c in "*?[") else []


def _regex(inv: Inventory, expression: str, source: str) -> list[str]:
    try:
        rx = re.compile(expression)
    except re.error as exc:
        raise InputError.one(source, None, "", "a valid regular expression after ~",
                             f"'{expression}' ({exc})") from None
    hosts = [h for h in inv.hosts if rx.match(h)]
    for group in inv.groups:
        if rx.match(group):
            hosts.extend(inv.group_members(group))
    return hosts


def _glob(inv: Inventory, term: str) -> list[str]:
    hosts = [h for h in inv.hosts if fnmatch.fnmatchcase(h, term)]
    for group in inv.groups:
        if fnmatch.fnmatchcase(group, term):
            hosts.extend(inv.group_members(group))
    return hosts


def _slice(members: list[str], match: re.Match[str]) -> list[str]:
    start = int(match.group("start") or 0)
    if match.group("end") is None:
        return members[start:start + 1] if start != -1 else members[-1:]
    end = match.group("end")
    return members[start:int(end) + 1 if end else None]
