"""Secrets never leave the process: values are masked wherever urs writes text.

Secret values come from a playbook's `secrets:`, from variables and environment variables
whose names look secret (TOKEN, SECRET, PASSWORD, `*_pass`, KEY, ...; inside nested mappings
too, but never a `*_file` or `*_path`: a key file's path is not the key), and from `no_log`
steps. Each is masked as written and in its common transformations: upper and lower case,
base64 and URL encoding. docs/security.md says what cannot be masked.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from runner.model import StepResult

MASK = "********"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW(OR)?D|(^|_)PASS($|_)|PASSPHRASE|KEY|CREDENTIAL|"
                         r"AUTH", re.I)
NOT_SECRET_NAME = re.compile(r"(_FILE|_FILES|_PATH|_DIR)$", re.I)  # where a secret is, not it
MIN_LENGTH = 4  # shorter values would mask ordinary words and numbers


def secret_values(values: Mapping[str, Any], all_: bool = False) -> list[str]:
    """Values of the entries whose names look secret, inside nested mappings and lists too;
    all_: every value (a playbook's `secrets:`)."""
    found: list[str] = []
    for key, value in values.items():
        name = str(key)
        secret = all_ or (SECRET_NAME.search(name) is not None
                          and not NOT_SECRET_NAME.search(name))
        found.extend(_values(value, secret))
    return found


def _values(value: Any, secret: bool) -> list[str]:
    if isinstance(value, Mapping):
        return secret_values(value, secret)
    if isinstance(value, list | tuple):
        return [v for item in value for v in _values(item, secret)]
    return [str(value)] if secret and _maskable(value) else []


def variants(value: str) -> set[str]:
    """A secret as written and as commonly transformed: case, base64, URL encoding."""
    import base64
    from urllib.parse import quote, quote_plus

    raw = value.encode("utf-8", "surrogatepass")
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    encoded |= {e.rstrip("=") for e in encoded}
    forms = {value, value.upper(), value.lower(), quote(value, safe=""), quote_plus(value)}
    return {f for f in forms | encoded if len(f) >= MIN_LENGTH}


def _maskable(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return len(str(value)) >= MIN_LENGTH


class Redactor:
    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    def add(self, values: Iterable[Any]) -> None:
        new = {f for v in values if _maskable(v) for f in variants(str(v))} - self._values
        if not new:
            return
        with self._lock:
            self._values |= new
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def text(self, value: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, value) if pattern and value else value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def result(self, result: StepResult, hide_all: bool = False) -> StepResult:
        if hide_all:
            hidden = "(hidden: no_log)"
            return dataclasses.replace(result, stdout=hidden if result.stdout else "",
                                       stderr=hidden if result.stderr else "",
                                       reason=hidden if result.reason else "", fields={})
        return dataclasses.replace(
            result, stdout=self.text(result.stdout), stderr=self.text(result.stderr),
            reason=self.text(result.reason), fields=self.value(dict(result.fields)),
        )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """Text with terminal control characters (ESC, BEL, CR, C1, ...) written as `\\x1b`, so
    step output shown on a terminal cannot move the cursor, retitle the window or hide lines."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
