"""Which functions a site has, found as Netlify finds them (zip-it-and-ship-it's rules):
each entry of the functions folder is a function when it is a file `name.js|.mjs|.cjs|.ts|
.tsx|.mts|.cts`, or a folder `name/` holding `name.*` or `index.*` (in Netlify's order of
precedence). A folder wins over a file of the same name; among files of one name `.js` wins.
Dotfiles, `node_modules` and other files are not functions."""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from runner.modules.netlify.source import SourceInfo, analyse

EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
MAIN_ORDER = (".js", ".ts", ".mjs", ".cjs", ".tsx", ".mts", ".cts")
TYPESCRIPT = (".ts", ".tsx", ".mts", ".cts")
DEFAULT_FOLDER = "netlify/functions"


@dataclass(frozen=True)
class Function:
    name: str
    main: str  # the main file, relative to the functions folder
    files: tuple[str, ...]  # every file of the function (a folder function has several)
    info: SourceInfo
    size: int
    sha256: str
    toml: Mapping[str, Any]  # its `[functions."name"]` settings from netlify.toml

    @property
    def typescript(self) -> bool:
        return self.main.endswith(TYPESCRIPT)

    @property
    def background(self) -> bool:
        return self.name.endswith("-background") or self.toml.get("background") is True

    @property
    def schedule(self) -> str | None:
        value = self.info.schedule or self.toml.get("schedule")
        return str(value) if value else None

    @property
    def kind(self) -> str:
        if self.schedule:
            return "scheduled"
        return "background" if self.background else "http"

    @property
    def routes(self) -> tuple[str, ...]:
        return self.info.routes or (f"/.netlify/functions/{self.name}",)


def folder_from_toml(toml_text: str | None) -> str:
    """The functions folder netlify.toml names (`[functions] directory`, else the legacy
    `[build] functions`), else Netlify's default, under `[build] base` when one is set.
    Raises ValueError on a broken file."""
    config = tomllib.loads(toml_text) if toml_text else {}
    functions = config.get("functions") or {}
    build: dict[str, Any] = config["build"] if isinstance(config.get("build"), dict) else {}
    folder = functions.get("directory") if isinstance(functions, dict) else None
    folder = folder or build.get("functions") or DEFAULT_FOLDER
    return posixpath.join(str(build.get("base") or "."), str(folder))  # relative to the base


def toml_settings(toml_text: str | None) -> dict[str, dict[str, Any]]:
    """The `[functions."pattern"]` tables of netlify.toml (patterns may use `*`)."""
    config = tomllib.loads(toml_text) if toml_text else {}
    functions = config.get("functions") or {}
    return {k: v for k, v in functions.items() if isinstance(v, dict)}


def _settings_for(name: str, settings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for pattern in sorted(settings, key=lambda p: (p != "*", "*" not in p, p)):
        if fnmatch.fnmatchcase(name, pattern):
            merged |= settings[pattern]
    return merged


def _main_file(folder: str, names: set[str]) -> str | None:
    for ext in MAIN_ORDER:
        for stem in (folder, "index"):
            if f"{folder}/{stem}{ext}" in names:
                return f"{folder}/{stem}{ext}"
    return None


def _candidates(files: Mapping[str, bytes]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (main file, files), by Netlify's precedence."""
    names = set(files)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    by_top: dict[str, list[str]] = {}
    for name in names:
        by_top.setdefault(name.split("/", 1)[0], []).append(name)
    tops = sorted(t for t in by_top if not t.startswith((".", "node_modules")))
    for top in tops:
        path = PurePosixPath(top)
        if top in names and path.suffix in EXTENSIONS:
            rank = EXTENSIONS.index(path.suffix)
            held = found.get(path.stem)
            if held is None or ("/" not in held[0] and rank < EXTENSIONS.index(
                    PurePosixPath(held[0]).suffix)):
                found[path.stem] = (top, (top,))
        elif top not in names:
            main = _main_file(top, names)
            if main:
                inside = tuple(sorted(p for p in by_top[top] if "/node_modules/" not in p))
                found[top] = (main, inside)
    return found


def discover(files: Mapping[str, bytes], toml_text: str | None) -> list[Function]:
    """The site's functions, sorted by name, from the functions folder's files."""
    settings = toml_settings(toml_text)
    functions = []
    for name, (main, members) in sorted(_candidates(files).items()):
        digest = hashlib.sha256()
        for member in members:
            digest.update(f"{member}\0".encode() + files[member])
        source = files[main].decode("utf-8", "replace")
        functions.append(Function(
            name=name, main=main, files=members, info=analyse(source),
            size=sum(len(files[m]) for m in members), sha256=digest.hexdigest(),
            toml=_settings_for(name, settings),
        ))
    return functions
