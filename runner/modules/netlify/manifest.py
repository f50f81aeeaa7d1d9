"""functions-manifest.json: what it holds, written the same way for the same functions (sorted,
no timestamps), read back, and compared with the functions as they are now."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.modules.netlify.discover import Function

VERSION = 1


def package_of(specifier: str) -> str:
    """The package a bare specifier names: `@scope/name/sub` -> `@scope/name`."""
    parts = specifier.split("/")
    return "/".join(parts[:2]) if specifier.startswith("@") else parts[0]


def entry(function: Function) -> dict[str, Any]:
    info = function.info
    packages = sorted({package_of(i.specifier) for i in info.imports
                       if not i.specifier.startswith((".", "/", "node:"))})
    relative = sorted({i.specifier for i in info.imports if i.specifier.startswith(".")})
    return {
        "name": function.name, "main": function.main, "kind": function.kind,
        "api_version": 2 if info.v2 and not info.v1 else 1,
        "background": function.background, "routes": list(function.routes),
        "schedule": function.schedule,
        "runtime": "typescript" if function.typescript else "javascript",
        "size": function.size, "sha256": function.sha256,
        "dependencies": {"packages": packages, "files": relative},
    }


def render(functions: Sequence[Function]) -> bytes:
    """The manifest's bytes: identical for identical functions."""
    body = {"version": VERSION, "functions": [entry(f) for f in functions]}
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


class ManifestError(ValueError):
    """The manifest is not one: bad JSON or the wrong shape."""


def parse(data: bytes) -> dict[str, dict[str, Any]]:
    """The manifest's functions by name; raises ManifestError when it is corrupt."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"not JSON ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("functions"), list):
        raise ManifestError('not a manifest (no "functions" list)')
    found: dict[str, dict[str, Any]] = {}
    for item in body["functions"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ManifestError("a function entry without a name")
        found[item["name"]] = item
    return found


@dataclass(frozen=True)
class Drift:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def stale(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        parts = [f"{label}: {', '.join(names)}" for label, names in
                 (("added", self.added), ("removed", self.removed), ("changed", self.changed))
                 if names]
        return "; ".join(parts)


def drift(listed: dict[str, dict[str, Any]], functions: Sequence[Function]) -> Drift:
    """What changed since the manifest was written (a function whose entry differs in any
    field, its sha256 included, has changed)."""
    now = {f.name: entry(f) for f in functions}
    return Drift(
        added=tuple(sorted(set(now) - set(listed))),
        removed=tuple(sorted(set(listed) - set(now))),
        changed=tuple(sorted(n for n in set(now) & set(listed) if now[n] != listed[n])),
    )
