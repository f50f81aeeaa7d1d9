"""Validated plans, remembered between runs: the dependency order and needs of a plan that
passed every check, under a digest of everything that went into it (the playbooks as
loaded, the variables known outside them, the urs version).

A changed playbook, inventory variable name or urs release gives another digest, so a plan
is never reused for input it was not checked with. Unreadable or mismatched entries are
ignored and rebuilt. Folder: `$XDG_CACHE_HOME/urs/plans` (`~/.cache/urs/plans`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from runner import __version__

Key = tuple[str, str]


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "urs" / "plans"


def digest(*parts: str) -> str:
    sha = hashlib.sha256(__version__.encode())
    for part in parts:
        sha.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return sha.hexdigest()


def read(key: str, nodes: set[Key]) -> tuple[tuple[Key, ...], dict[Key, tuple[Key, ...]]] | None:
    """(order, needs) remembered under key, if they fit these nodes exactly."""
    try:
        data = json.loads((folder() / f"{key}.json").read_text(encoding="utf-8"))
        order = tuple((str(a), str(b)) for a, b in data["order"])
        preds = {(str(a), str(b)): tuple((str(c), str(d)) for c, d in needs)
                 for a, b, needs in data["preds"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if set(order) != nodes or set(preds) != nodes:
        return None
    return order, preds


def write(key: str, order: tuple[Key, ...], preds: Mapping[Key, tuple[Key, ...]]) -> None:
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
