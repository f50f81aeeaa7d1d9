"""What a function's source says, read statically (the way Netlify reads in-source config):
its exports, `config.path` and `config.schedule`, and the modules it imports or requires,
each with its line. Comments are blanked first so commented-out code never counts."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT_OR_STRING = re.compile(
    r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|`(?:\\.|[^`\\])*`", re.S
)
_V1_HANDLER = re.compile(
    r"\bexports\.handler\s*=|\bmodule\.exports\s*=\s*\{[^}]*\bhandler\b"
    r"|\bexport\s+(?:async\s+)?(?:function\s*\*?\s*|const\s+|let\s+|var\s+)handler\b"
    r"|\bexport\s*\{[^}]*\bhandler\b[^}]*\}"
)
_DEFAULT = re.compile(r"\bexport\s+default\b|\bexport\s*\{[^}]*\bas\s+default\b")
_CONFIG = re.compile(r"\bexport\s+(?:const|let|var)\s+config\b[^=]*=\s*\{")
_IMPORTS = re.compile(
    r"\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?(['\"])([^'\"\n]+)\1"
    r"|\bexport\s+(?:\*|\{[^}]*\})\s+from\s+(['\"])([^'\"\n]+)\3"
    r"|\bimport\s*\(\s*(['\"])([^'\"\n]+)\5\s*\)"
    r"|\brequire\s*\(\s*(['\"])([^'\"\n]+)\7\s*\)"
)
_SCHEDULE_HELPER = re.compile(r"\bschedule\s*\(\s*(['\"])([^'\"\n]+)\1")
_ESM = re.compile(r"^\s*(?:import\s*[\w*{'\"]|export\s)", re.M)


@dataclass(frozen=True)
class Import:
    specifier: str
    line: int
    style: str  # "import" (ESM resolution) or "require" (CommonJS resolution)


@dataclass(frozen=True)
class SourceInfo:
    v1: bool  # exports a `handler`
    v2: bool  # has a default export
    routes: tuple[str, ...]
    schedule: str | None
    imports: tuple[Import, ...]
    esm: bool  # written as an ES module (import/export statements)


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] in "'\"`":  # keep strings (specifiers live there), blank only their newlines
        return text
    return re.sub(r"[^\n]", " ", text)


def strip_comments(source: str) -> str:
    """The source with comments replaced by spaces; strings and line numbers kept."""
    return _COMMENT_OR_STRING.sub(_blank, source)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _object_at(text: str, start: int) -> str:
    """The `{...}` literal opening at `start` (balanced braces, strings included)."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index + 1]
    return text[start:]


def _config(code: str) -> str:
    match = _CONFIG.search(code)
    return _object_at(code, match.end() - 1) if match else ""


def _strings_of(config: str, key: str) -> tuple[str, ...]:
    value = re.search(rf"\b{key}\s*:\s*(\[[^\]]*\]|(['\"`])[^'\"`]*\2)", config)
    if not value:
        return ()
    return tuple(m.group(2) for m in re.finditer(r"(['\"`])([^'\"`]*)\1", value.group(1)))


def _imports(code: str) -> tuple[Import, ...]:
    found = []
    for match in _IMPORTS.finditer(code):
        if match.group(0).startswith("import type"):
            continue  # erased when compiled: nothing to resolve
        groups = match.groups()
        specifier = next(g for g in groups[1::2] if g)
        style = "require" if groups[7] else "import"
        found.append(Import(specifier, _line(code, match.start()), style))
    return tuple(found)


def analyse(source: str) -> SourceInfo:
    code = strip_comments(source)
    config = _config(code)
    schedules = _strings_of(config, "schedule")
    helper = _SCHEDULE_HELPER.search(code) if "@netlify/functions" in code else None
    schedule = schedules[0] if schedules else (helper.group(2) if helper else None)
    return SourceInfo(
        v1=bool(_V1_HANDLER.search(code)), v2=bool(_DEFAULT.search(code)),
        routes=_strings_of(config, "path"), schedule=schedule, imports=_imports(code),
        esm=bool(_ESM.search(code)),
    )
