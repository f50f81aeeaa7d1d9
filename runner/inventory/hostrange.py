"""Host patterns inside inventories: `web[01:20]`, `db-[a:f]`, strides `[0:10:5]`, and an
optional `:port` (`host:2222`, `[::1]:2222`), expanded the way Ansible expands them."""

from __future__ import annotations

import re
import string

MAX_HOSTS = 100_000  # names one host pattern may expand to (h[0:999999999] would eat GBs)
_BRACKETED_V6 = re.compile(r"^\[(?P<host>[0-9a-fA-F:.]+)\](?::(?P<port>\d+))?$")


class RangeError(ValueError):
    """A host range that cannot be expanded."""


def split_port(pattern: str) -> tuple[str, int | None]:
    """`host:port` -> (host, port); IPv6 addresses and ranges keep their colons."""
    v6 = _BRACKETED_V6.match(pattern)
    if v6:
        return v6.group("host"), int(v6.group("port")) if v6.group("port") else None
    depth, split_at = 0, -1
    for index, char in enumerate(pattern):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == ":" and depth == 0:
            if split_at != -1:
                return pattern, None  # more than one colon outside brackets: IPv6
            split_at = index
    if split_at != -1 and pattern[split_at + 1:].isdigit():
        return pattern[:split_at], int(pattern[split_at + 1:])
    return pattern, None


def expand(pattern: str) -> list[str]:
    """Every host name a pattern stands for, ranges expanded left to right; at most
    MAX_HOSTS of them."""
    names = [pattern]
    while "[" in names[0]:
        rest = names[0].partition("[")[2]
        inner, closed, _tail = rest.partition("]")
        if not closed:
            raise RangeError(f"'{pattern}' has an unclosed '['")
        items = _sequence(inner)
        if len(items) * len(names) > MAX_HOSTS:
            raise RangeError(f"'{pattern}' stands for more than {MAX_HOSTS} hosts "
                             f"(at most {MAX_HOSTS} per pattern)")
        names = [_replace_first(name, inner, item) for name in names for item in items]
    return names


def _replace_first(name: str, inner: str, item: str) -> str:
    return name.replace(f"[{inner}]", item, 1)


def _sequence(inner: str) -> list[str]:
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError(f"host range [{inner}] must be begin:end or begin:end:step")
    begin, end = bounds[0] or "0", bounds[1]
    step = _number(bounds[2], inner) if len(bounds) == 3 else 1
    if not end:
        raise RangeError(f"host range [{inner}] must have an end")
    if step < 1:
        raise RangeError(f"host range [{inner}] must have a step of at least 1")
    if begin in string.ascii_letters and end in string.ascii_letters:
        first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        if first > last:
            raise RangeError(f"host range [{inner}] must have begin <= end")
        return list(string.ascii_letters[first:last + 1:step])
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and width != len(end):
        raise RangeError(f"host range [{inner}] must have begin and end of equal width")
    numbers = range(_number(begin, inner), _number(end, inner) + 1, step)
    if len(numbers) > MAX_HOSTS:
        raise RangeError(f"host range [{inner}] has {len(numbers)} hosts "
                         f"(at most {MAX_HOSTS} per pattern)")
    return [str(n).zfill(width) for n in numbers]


def _number(text: str, inner: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RangeError(f"host range [{inner}] has '{text}', not a number") from None
