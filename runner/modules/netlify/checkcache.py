"""What validation remembers on the control machine (under the user's cache folder): Node's
syntax verdict per file by sha256, and whole reports by a key over every input that can change
them (each file's sha256, and a fingerprint of the package.json files and node_modules folders
that resolution reads), so an unchanged site is re-checked without starting Node at all."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.modules.netlify.host import SiteError, SiteHost

LIMITS = {"netlify-syntax": 50_000, "netlify-reports": 200}

# package.json and node_modules listings (with times) from the site up to /, and of every
# node_modules inside the functions folder: an install, a removal or an edit changes them
FINGERPRINT = """d={site}; while :; do
  ls -l --full-time "$d/package.json" "$d/node_modules" "$d"/node_modules/@* 2>/dev/null
  [ "$d" = / ] && break; d=$(dirname "$d"); done
find {folder} -name node_modules -prune -type d -exec ls -l --full-time {{}} + 2>/dev/null
find {folder} -name package.json -not -path '*/node_modules/*' -exec ls -l --full-time {{}} + \
  2>/dev/null; true"""


def _path(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "urs" / f"{name}.json"


def load(name: str) -> dict[str, Any]:
    try:
        data = json.loads(_path(name).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(name: str, cache: Mapping[str, Any]) -> None:
    path = _path(name)
    items = dict(list(cache.items())[-LIMITS[name]:])
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # verdicts trusted later
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(items))
        tmp.replace(path)
    except OSError:
        return  # a cache that cannot be written only costs time


def fingerprint(host: SiteHost, folder: str) -> str:
    res = host.call.sh(FINGERPRINT.format(site=shlex.quote(host.site),
                                          folder=shlex.quote(folder)))
    if not res.ok:
        raise SiteError(f"cannot list {folder}: {res.stderr.strip() or res.reason}")
    return hashlib.sha256(res.stdout.encode()).hexdigest()


def stays_inside(member: str, specifier: str) -> bool:
    """A relative import that resolves within the functions folder (whose files are hashed)."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(member), specifier))
    return not target.startswith("..") and not specifier.startswith("/")
