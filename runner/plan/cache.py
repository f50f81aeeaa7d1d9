"""Validated plans, remembered between runs: the dependency order and needs of a plan that
passed every check, under a key of everything that went into it.

The key is a sha256 of: the playbooks as loaded, serialised canonically (sorted JSON: sets
and mappings sorted, so every process computes the same key whatever its PYTHONHASHSEED);
the variable names known outside them; the urs and Python versions; and a digest of the code
that validates and orders plans (CODE, and the jinja2 that parses templates). A changed
playbook, inventory variable name, urs release or edited checkout gives another key, so a plan
is never reused for input or code it was not checked with. Unreadable or mismatched entries
are ignored and rebuilt. Reading an entry touches it; entries unused for KEEP_DAYS are deleted,
at most once a day (when an entry is written). Folder: `$XDG_CACHE_HOME/urs/plans`
(`~/.cache/urs/plans`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from runner import __version__

Key = tuple[str, str]
Needs = Mapping[Key, tuple[Key, ...]]

PACKAGE = Path(__file__).resolve().parent.parent  # runner/
# the code that validates and orders plans, relative to the runner package
CODE = ("plan/*.py", "templating/*.py", "load/schema.py", "model.py")
KEEP_DAYS = 30
DAY = 24 * 3600.0
MARKER = ".pruned"  # its mtime: when the folder was last pruned


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "urs" / "plans"


def canonical(value: Any) -> Any:
    """value as JSON-able data that is the same in every process: sets and mappings sorted,
    dataclasses as their fields, each container tagged with its kind."""
    if value is None or isinstance(value, str | int | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"": type(value).__name__,
                **{name: canonical(getattr(value, name)) for name in _field_names(type(value))}}
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, set | frozenset):
        strings = all(isinstance(v, str) for v in value)  # sorted without JSON
        return {"": "set", "items": sorted(value) if strings else
                _sorted(canonical(v) for v in value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return {"": type(value).__name__, "repr": repr(value)}


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    if all(isinstance(k, str) for k in value):  # the common case: sorted without JSON
        return {"": "map", "items": [[k, canonical(value[k])] for k in sorted(value)]}
    return {"": "map", "items": _sorted([canonical(k), canonical(v)] for k, v in value.items())}


@lru_cache(maxsize=64)
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


@lru_cache(maxsize=4)
def code_digest(package: Path = PACKAGE) -> str:
    """sha256 of the code that validates and orders plans, and of jinja2's version file."""
    import importlib.util

    sha = hashlib.sha256()
    for pattern in CODE:
        for path in sorted(package.glob(pattern)):
            sha.update(f"{path.relative_to(package)}\0".encode() + path.read_bytes() + b"\0")
    spec = importlib.util.find_spec("jinja2")
    if spec is not None and spec.origin:
        sha.update(Path(spec.origin).read_bytes())
    return sha.hexdigest()


def key(books: Any, known: Iterable[str] | None, code: str | None = None) -> str:
    """The cache key of a plan of books checked against the known variable names."""
    names = None if known is None else sorted(known)
    parts = (__version__, sys.version, code or code_digest(),
             json.dumps(canonical(books), sort_keys=True), json.dumps(names))
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def read(key: str, nodes: set[Key]) -> tuple[tuple[Key, ...], dict[Key, tuple[Key, ...]]] | None:
    """(order, needs) remembered under key, if they fit these nodes exactly; marks it used."""
    path = folder() / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        order = tuple((str(a), str(b)) for a, b in data["order"])
        preds = {(str(a), str(b)): tuple((str(c), str(d)) for c, d in needs)
                 for a, b, needs in data["preds"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if set(order) != nodes or set(preds) != nodes:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return order, preds


def write(key: str, order: tuple[Key, ...], preds: Needs) -> None:
    """Remember a validated plan; a cache that cannot be written is no error."""
    data = {"order": [list(k) for k in order],
            "preds": [[a, b, [list(n) for n in needs]] for (a, b), needs in preds.items()]}
    with contextlib.suppress(OSError):
        where = folder()
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=where, delete=False, suffix=".tmp",
                                         encoding="utf-8") as tmp:
            json.dump(data, tmp)
        Path(tmp.name).replace(where / f"{key}.json")
        prune(where)


def prune(where: Path, now: float | None = None) -> int:
    """Delete the entries of where unused for KEEP_DAYS days, unless it was pruned in the last
    day; how many were deleted."""
    now = time.time() if now is None else now
    marker = where / MARKER
    with contextlib.suppress(OSError):
        if now - marker.stat().st_mtime < DAY:
            return 0
    removed = 0
    with contextlib.suppress(OSError):
        marker.touch()
        os.utime(marker, (now, now))
        for entry in where.iterdir():
            if entry.suffix in {".json", ".tmp"} and _unused_since(entry, now - KEEP_DAYS * DAY):
                entry.unlink(missing_ok=True)
                removed += 1
    return removed


def _unused_since(entry: Path, cutoff: float) -> bool:
    try:
        return entry.stat().st_mtime < cutoff
    except OSError:  # gone already: another process pruned it
        return False
