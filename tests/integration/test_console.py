"""The console output of `urs run` as text: golden files (tests/data/console/*.txt) for the
common cases, with durations, run ids and ports made steady; progress lines on a terminal
(a pty) and never on a pipe. URS_UPDATE_GOLDEN=1 rewrites the files from what urs prints."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, urs, write

GOLDEN = ROOT / "tests" / "data" / "console"

BOOKS = {
    "chain": """
steps:
  - {name: disk, run: "echo 41% used"}
  - {name: memory, needs: disk, check: "true"}
  - {name: app, needs: memory, run: "true"}
""",
    "failing": """
steps:
  - {name: disk, run: "echo checking /srv; echo 1.2G free; echo 'disk full' >&2; exit 3"}
  - {name: cleanup, needs: disk, run: "true"}
""",
    "flaky": """
steps:
  - name: answers
    run: "echo attempt; echo 'connection refused' >&2; exit 7"
    retries: 2
    delay: 0.1s
""",
    "needs": """
steps:
  - {name: pm2-present, run: "exit 1"}
  - {name: daemon-alive, needs: pm2-present, run: "true"}
  - {name: apps-online, needs: daemon-alive, run: "true"}
""",
    "when": """
steps:
  - {name: pm2-present, check: "true"}
  - {name: daemon-alive, needs: pm2-present, when: steps.pm2_present.installed, run: "true"}
""",
}

CASES = {  # golden file: (book, extra arguments, exit code)
    "all-ok": ("chain", [], 0),
    "failure-with-output": ("failing", [], 1),
    "retries": ("flaky", [], 1),
    "skip-by-failed-need": ("needs", [], 1),
    "skip-by-when": ("when", [], 0),
    "quiet-failure": ("failing", ["-q"], 1),
    "quiet-ok": ("chain", ["--quiet"], 0),
    "unreachable": ("chain", ["-i", "{inventory}", "-l", "web-1"], 4),
}


def steady(text: str, port: int) -> str:
    """Output without what changes from run to run: durations, the run id, a free port."""
    text = re.sub(r"\b\d+\.\d\ds\b", "0.00s", text)
    text = re.sub(r"\brun [0-9a-f]{8}\b", "run 12345678", text)
    return text.replace(str(port), "PORT")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_console_output_matches_its_golden_file(case: str, tmp_path: Path, store: Path) -> None:
    book, args, code = CASES[case]
    port = closed_port()
    inventory = write(tmp_path, f"localhost ansible_connection=local\n"
                                f"web-1 ansible_host=127.0.0.1 ansible_port={port}\n", "hosts.ini")
    path = write(tmp_path, BOOKS[book], f"{book}.yml")
    out = urs("run", str(path), *(a.format(inventory=inventory) for a in args))
    assert out.returncode == code, out.stdout + out.stderr
    shown = steady(out.stdout, port)
    golden = GOLDEN / f"{case}.txt"
    if os.environ.get("URS_UPDATE_GOLDEN"):
        golden.write_text(shown)
    assert shown == golden.read_text()


def test_golden_files_are_all_used() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(CASES)


def _on_terminal(args: list[str], until: str, then: Path, deadline_s: float = 60) -> str:
    """Run urs with a pty as its terminal; when `until` shows, create `then`; all it wrote."""
    import pty

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen([sys.executable, "-m", "runner", *args], stdout=follower,
                            stderr=follower, env=env)
    os.close(follower)
    seen = b""
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen += data
            if until.encode() in seen:
                then.touch()
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    return seen.decode()


def test_a_long_step_shows_its_elapsed_time_on_a_terminal(tmp_path: Path, store: Path) -> None:
    go = tmp_path / "go"
    book = write(tmp_path, f"""
steps:
  - name: slow
    run: "i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
""")
    seen = _on_terminal(["run", str(book)], until="running", then=go)
    assert go.exists(), seen  # the progress line appeared while the step ran
    assert re.search(r"\r\x1b\[K  running\s+localhost  slow  \d+\.\d\ds", seen), seen
    finished = seen.rsplit("\r\x1b[K", 1)[1]  # the progress line was cleared, then the rest
    plain = re.sub(r"\x1b\[[0-9;]*m", "", finished)
    assert plain.split()[:3] == ["ok", "localhost", "slow"], seen


def test_no_progress_line_on_a_pipe(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: slow, run: 'sleep 3'}]")
    out = urs("run", str(book))
    assert out.returncode == 0
    assert "running" not in out.stdout and "\r" not in out.stdout and "\x1b" not in out.stdout
    assert out.stdout.splitlines()[1].split()[:3] == ["ok", "localhost", "slow"]
