"""`${{ }}` expressions in a workflow: closed, and naming only contexts GitHub knows.

Every string value is scanned; `if:` of jobs and steps is an expression with or without the
braces. Only the first name of each operand is a context (`github` in `github.event.name`);
names followed by `(` are functions, quoted text is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from runner.modules.workflows.parse import Parsed, Path

CONTEXTS = frozenset({"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets",
                      "strategy", "matrix", "needs", "inputs"})
LITERALS = frozenset({"true", "false", "null", "NaN", "Infinity"})
_TOKEN = re.compile(r"'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_-]*|\S")


def check_expressions(parsed: Parsed) -> None:
    for path, text in _strings(parsed.data, ()):
        if _is_condition(path) and "${{" not in text:
            _check_body(parsed, path, text, text)
            continue
        start = text.find("${{")
        while start >= 0:
            end = text.find("}}", start + 3)
            if end < 0:
                parsed.add(path, f"unclosed expression {_short(text[start:])} (no }}}})",
                           at=_locate(parsed, path, text[start:]))
                break
            _check_body(parsed, path, text[start + 3:end], text[start:end + 2])
            start = text.find("${{", end + 2)


def _check_body(parsed: Parsed, path: Path, body: str, shown: str) -> None:
    for name in contexts_used(body):
        if name not in CONTEXTS:
            parsed.add(path, f"unknown context {name!r} in {_short(shown)} "
                             f"(known: {', '.join(sorted(CONTEXTS))})",
                       at=_locate(parsed, path, shown))


def contexts_used(body: str) -> list[str]:
    """The first name of each operand: the contexts an expression reads."""
    tokens = _TOKEN.findall(body)
    found = []
    for i, token in enumerate(tokens):
        if not (token[0].isalpha() or token[0] == "_") or token in LITERALS:
            continue
        after_dot = i > 0 and tokens[i - 1] == "."
        is_call = i + 1 < len(tokens) and tokens[i + 1] == "("
        if not after_dot and not is_call:
            found.append(token)
    return found


def _is_condition(path: Path) -> bool:
    return (len(path) == 3 and path[0] == "jobs" and path[2] == "if") or (
        len(path) == 5 and path[0] == "jobs" and path[2] == "steps" and path[4] == "if")


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _locate(parsed: Parsed, path: Path, snippet: str) -> tuple[int, int]:
    """The line and column where snippet's first line appears, at or after the value's start."""
    line, column = parsed.where(path)
    first = snippet.splitlines()[0] if snippet else ""
    lines = parsed.text.splitlines()
    for number in range(line - 1, len(lines)):
        found = lines[number].find(first)
        if found >= 0:
            return number + 1, found + 1
    return line, column
