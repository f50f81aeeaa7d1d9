"""Names, hosts, reasons and output carrying terminal control sequences, recorded by real runs:
every text view of the store (history, a run, status, logs, incidents, the daemon's jobs and
log) and the live console show them escaped, so none clears the screen or rewrites a line;
JSON keeps the exact strings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import urs, write

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and line break
BOOK = """\
name: "hostile\\e[2Jbook"
steps:
  - name: "clear\\e[2J\\rstep"
    run: printf 'out\\033[2J\\rline\\nlast\\033]0;title\\007\\n'; exit 3
"""
INVENTORY = """\
all:
  hosts:
    "web\\e]0;pwned\\a\\r1":
      ansible_connection: local
"""
BOOK_NAME, STEP, HOST = "hostile\x1b[2Jbook", "clear\x1b[2J\rstep", "web\x1b]0;pwned\x07\r1"
REASON = "exit code 3: last\x1b]0;title\x07"
SHOWN = {"book": "hostile\\x1b[2Jbook", "step": "clear\\x1b[2J\\x0dstep",
         "host": "web\\x1b]0;pwned\\x07\\x0d1", "reason": "last\\x1b]0;title\\x07",
         "output": "out\\x1b[2J"}


def _project(tmp_path: Path) -> Path:
    write(tmp_path, BOOK, "book.yml")
    write(tmp_path, INVENTORY, "inv.yml")
    write(tmp_path, f"store: {tmp_path / 'store.db'}\nescalation: {{max_failures: 1}}\n"
                    "jobs:\n  hostile: {playbooks: book.yml, inventory: inv.yml, interval: 1h}\n",
          "urs.yml")
    return tmp_path


def _escaped(args: tuple[str, ...], out: str, *expected: str) -> None:
    """Not one control character (click would strip some CSI sequences from a pipe, so the
    escaped forms are looked for too)."""
    assert not CONTROLS.search(out), (args, out)
    for key in expected:
        assert SHOWN[key] in out, (args, key, out)


def test_every_text_view_shows_stored_control_characters_escaped(tmp_path: Path) -> None:
    project = _project(tmp_path)
    run = urs("run", "book.yml", "-i", "inv.yml", cwd=project)
    assert run.returncode == 1, run.stderr
    _escaped(("run",), run.stdout + run.stderr, "book", "step", "host", "reason", "output")
    once = urs("daemon", "--once", cwd=project)
    assert once.returncode == 1, once.stderr
    _escaped(("daemon",), once.stdout + once.stderr, "step", "host")
    assert 'reason="exit code 3: last\\u001b]0;title\\u0007"' in once.stdout  # quoted, logfmt
    views = {("history",): ("book", "host"),
             ("history", "latest"): ("book", "step", "host", "reason", "output"),
             ("status",): ("book", "step", "host", "reason"),
             ("status", "--failing", "-l", "web*"): ("book", "step", "host", "reason"),
             ("logs",): ("book", "step", "host", "reason", "output"),
             ("incidents",): ("book", "step", "host", "reason")}
    for args, expected in views.items():
        out = urs(*args, cwd=project)
        assert out.returncode in {0, 1}, (args, out.stderr)
        _escaped(args, out.stdout + out.stderr, *expected)


def test_json_keeps_the_exact_strings(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert urs("run", "book.yml", "-i", "inv.yml", cwd=project).returncode == 1
    detail = json.loads(urs("history", "latest", "--json", cwd=project).stdout)
    assert (detail["playbook"], detail["hosts"]) == (BOOK_NAME, [HOST])
    (step,) = detail["steps"]
    assert (step["step"], step["host"], step["reason"]) == (STEP, HOST, REASON)
    assert "out\x1b[2J\rline\n" in step["stdout_tail"]
    (status,) = map(json.loads, urs("status", "--json", cwd=project).stdout.splitlines())
    assert (status["playbook"], status["step"], status["reason"]) == (BOOK_NAME, STEP, REASON)
    (incident,) = map(json.loads, urs("incidents", "--json", cwd=project).stdout.splitlines())
    assert (incident["host"], incident["last_reason"]) == (HOST, REASON)
