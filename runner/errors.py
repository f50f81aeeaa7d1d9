"""One exception family for everything the user can get wrong.

Each problem names the file, line and field, what was expected and what was found, and an
optional hint. The CLI turns an `InputError` into one line per problem and exit code 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    expected: str
    found: str = ""
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: " if self.field else f"{where}: "
        if not self.expected:  # a fact that says it all: "no such file"
            text += self.found
        else:
            text += f"expected {self.expected}" + (f", found {self.found}" if self.found else "")
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(Exception):
    """Invalid input: a playbook, inventory, option or variable. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(
        cls, file: str, line: int | None, field: str, expected: str, found: str = "", hint: str = ""
    ) -> InputError:
        return cls([Problem(file, line, field, expected, found, hint)])


class StoreError(Exception):
    """The outcome store cannot be opened or used (not a database, no permission, ...)."""

    exit_code = 5


class LockBusy(Exception):
    """Another run of the same playbooks and inventory holds the lock."""

    exit_code = 3


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the closest choice, or an empty string."""
    import difflib  # only when there is a mistake to explain

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def describe(value: object) -> str:
    """How a found value is shown in an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Interrupted(Exception):
    """The run was cancelled (Ctrl-C, SIGTERM, the run's deadline) while a step waited."""


class DeadlineExceeded(Exception):
    """A step's attempt ran past its timeout while a module waited or rendered."""


def current_traceback(limit: int | None = None) -> str:
    """The exception being handled, as text (traceback is imported only when there is one)."""
    import traceback

    return traceback.format_exc(limit=limit)
