"""`urs schedule --install`: the user's crontab with urs's block replaced or added, through
`crontab -l` and `crontab -`; every line outside the block is kept as it was."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from runner.errors import InputError

BEGIN = "# >>> urs {key}: written by `urs schedule --install`; edit urs.yml, not these lines"
END = "# <<< urs {key}"


def block(key: str, lines: Sequence[str]) -> list[str]:
    return [BEGIN.format(key=key), *lines, END.format(key=key)]


def replace_block(current: str, key: str, lines: Sequence[str]) -> str:
    """`current` with the block for `key` replaced, or added at the end."""
    old = current.splitlines()
    begin, end = BEGIN.format(key=key), END.format(key=key)
    if begin in old and end in old[old.index(begin):]:
        start = old.index(begin)
        stop = old.index(end, start)
        new = [*old[:start], *block(key, lines), *old[stop + 1:]]
    else:
        gap = [""] if old and old[-1].strip() else []
        new = [*old, *gap, *block(key, lines)]
    return "\n".join(new) + "\n"


def install(key: str, lines: Sequence[str], program: str = "crontab") -> bool:
    """Write the block into the user's crontab; whether anything changed."""
    current = _run([program, "-l"], None)
    if current.returncode != 0 and "no crontab" not in current.stderr.lower():
        raise InputError.one(program, None, "", "a readable crontab",
                             current.stderr.strip() or f"exit code {current.returncode}")
    text = current.stdout if current.returncode == 0 else ""
    updated = replace_block(text, key, lines)
    if updated == text:
        return False
    written = _run([program, "-"], updated)
    if written.returncode != 0:
        raise InputError.one(program, None, "", "crontab to accept the lines",
                             written.stderr.strip() or f"exit code {written.returncode}")
    return True


def _run(args: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=30,
                              check=False)
    except FileNotFoundError:
        raise InputError.one(args[0], None, "", "the crontab command (Debian: apt-get install "
                             "cron)", "none on PATH") from None
    except subprocess.TimeoutExpired:
        raise InputError.one(args[0], None, "", "crontab to answer within 30s", "no answer") \
            from None
