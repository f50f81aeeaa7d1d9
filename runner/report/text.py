"""Small words shared by the reporters and the read-only commands: counts, durations and
times as people say them, and stored text made safe to show on one line of a terminal."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from runner.redact import escape_controls


def plural(count: int, noun: str) -> str:
    """`1 step`, `2 steps`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def duration(seconds: float) -> str:
    """`0.42s`, `12.30s`, then `1m 05s`, `2h 03m` past a minute and an hour."""
    if seconds < 60:
        return f"{seconds:.2f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def delay(seconds: float) -> str:
    """A wait as written in a playbook: `4s`, `0.5s`, `2m 00s`."""
    return f"{seconds:g}s" if seconds < 60 else duration(seconds)


def timestamp(at: float | None) -> str:
    if not at:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ago(at: float | None, now: float | None = None) -> str:
    """`just now`, `42s ago`, `3 min ago`, `5 h ago`, `2 days ago`; `-` for never."""
    if not at:
        return "-"
    seconds = max((time.time() if now is None else now) - at, 0.0)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    days = int(seconds // 86400)
    return f"{plural(days, 'day')} ago"


def one_line(value: object) -> str:
    """A name, host or reason as one line that a terminal cannot act on: control characters,
    line breaks and tabs written as `\\x1b`, `\\n`, `\\t` (a step may be named anything,
    a reason may quote any output)."""
    return escape_controls(str(value)).replace("\n", "\\n").replace("\t", "\\t")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns that line up under their headers, each cell on one line (`one_line`); the last
    column is not padded."""
    texts = [[one_line(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in texts) for i in range(len(header) - 1)]
    lines = []
    for row in texts:
        cells = [f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines
