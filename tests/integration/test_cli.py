"""The urs command as users type it: every command, exit codes, the store, locks, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import end_holding, holding, process_gone, urs, wait_for, write

PASSING = """
steps:
  - {name: a, run: "echo alpha"}
  - {name: b, needs: a, check: "true"}
"""


def _rows(store: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(sql).fetchall()


def test_run_prints_a_line_per_step_and_a_recap(tmp_path: Path, store: Path) -> None:
    out = urs("run", str(write(tmp_path, PASSING)))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "urs run book: 2 steps on localhost"
    assert any(line.split()[:3] == ["ok", "localhost", "a"] for line in lines)
    assert "RECAP" in lines
    assert "ok=2 changed=0 recovered=0 failed=0 skipped=0 unreachable=0" in out.stdout
    assert "\x1b[" not in out.stdout  # no colours when not on a terminal


def test_json_lines_have_an_event_field_and_step_fields(tmp_path: Path, store: Path) -> None:
    out = urs("run", str(write(tmp_path, PASSING)), "--json")
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert next(e["event"] for e in events) == "run_started"
    assert events[-1]["event"] == "run_finished" and events[-1]["exit_code"] == 0
    step = next(e for e in events if e["event"] == "step_finished" and e["step"] == "a")
    for key in ("playbook", "host", "step", "status", "rc", "attempts", "duration_s", "reason",
                "stdout", "stderr"):
        assert key in step
    assert step["stdout"] == "alpha\n" and step["status"] == "ok" and step["rc"] == 0


def test_exit_codes(tmp_path: Path, store: Path) -> None:
    failing = write(tmp_path, "steps: [{name: bad, run: 'exit 1'}]", "failing.yml")
    assert urs("run", str(failing)).returncode == 1
    assert urs("run", str(tmp_path / "missing.yml")).returncode == 2
    assert urs("run").returncode == 2  # usage
    assert urs("run", str(failing), "--forks", "0").returncode == 2


def test_extra_vars_forms_and_precedence(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, """
vars: {who: playbook, n: 1}
steps: [{name: say, run: "echo {{ who }} {{ n }} {{ extra }}"}]
""")
    write(tmp_path, "extra: from-file\nn: 5\n", "vars.yml")
    out = urs("run", str(book), "--json", "-e", "who=cli", "-e", f"@{tmp_path / 'vars.yml'}",
              "-e", '{"n": 7}')
    step = next(json.loads(x) for x in out.stdout.splitlines() if '"step_finished"' in x)
    assert step["stdout"] == "cli 7 from-file\n"
    bad = urs("run", str(book), "-e", "no-equals-sign")
    assert bad.returncode == 2 and "error: -e: expected key=value" in bad.stderr


def test_check_graph_and_list(tmp_path: Path) -> None:
    book = write(tmp_path, PASSING)
    assert urs("check", str(book)).stdout == "ok: book: 2 steps, 1 host\n"
    assert urs("graph", str(book)).stdout == "book: 2 steps\n  a [run]\n  b [check] <- a\n"
    dot = urs("graph", str(book), "--format", "dot").stdout
    assert '"a" -> "b";' in dot and dot.startswith('digraph "book"')
    mermaid = urs("graph", str(book), "--format", "mermaid").stdout
    assert mermaid.splitlines()[0] == "flowchart LR" and "s0 --> s1" in mermaid
    (tmp_path / "playbooks").mkdir()
    write(tmp_path / "playbooks", "description: mine\nsteps: [{name: x, run: 'true'}]", "own.yml")
    listed = urs("list", cwd=tmp_path).stdout
    assert re.search(r"^own +project +mine$", listed, re.M)  # columns as wide as the names
    assert "health-system" in listed and "built-in" in listed


def test_history_and_status_read_the_store(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: one, run: 'true'}, {name: two, run: 'exit 2'}]")
    urs("run", str(book))
    urs("run", str(book))
    hist = urs("history").stdout.splitlines()
    assert hist[0].split()[:2] == ["RUN", "STARTED"] and len(hist) == 3
    assert all("failed" in line for line in hist[1:])
    runs = [json.loads(x) for x in urs("history", "--json").stdout.splitlines()]
    assert len(runs) == 2 and runs[0]["exit_code"] == 1
    detail = urs("history", runs[0]["id"][:8]).stdout
    assert "book/two" in detail and "exit code 2" in detail
    status = urs("status").stdout.splitlines()
    assert len(status) == 3  # a header, then the latest outcome per playbook, host and step
    assert status[1].split()[:4] == ["ok", "book", "localhost", "one"]
    assert status[2].split()[:4] == ["failed", "book", "localhost", "two"]


def test_store_and_folder_are_private(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, PASSING)))
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    for extra in store.parent.glob("outcomes.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600


def test_store_flag_and_env_choose_the_file(tmp_path: Path, store: Path) -> None:
    other = tmp_path / "elsewhere.db"
    urs("run", str(write(tmp_path, PASSING)), "--store", str(other))
    assert _rows(other, "SELECT COUNT(*) FROM runs") == [(1,)]
    assert not store.exists()


def test_concurrent_runs_write_one_store_without_losing_rows(tmp_path: Path, store: Path) -> None:
    procs = []
    for i in range(8):
        steps = "\n".join(f"  - {{name: s{j}, run: 'true'}}" for j in range(10))
        book = write(tmp_path, f"steps:\n{steps}\n", f"book{i}.yml")
        procs.append(subprocess.Popen([sys.executable, "-m", "runner", "run", str(book)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert _rows(store, "SELECT COUNT(*) FROM runs WHERE status = 'ok'") == [(8,)]
    assert _rows(store, "SELECT COUNT(*) FROM step_outcomes") == [(80,)]
    assert _rows(store, "PRAGMA integrity_check") == [("ok",)]



def test_a_reader_in_another_process_loses_no_row_of_a_process_with_several_connections(
        store: Path) -> None:
    """The daemon keeps the store open while each run opens and closes its own: `urs status`
    run meanwhile must not take the daemon's connections for gone and delete their WAL."""
    from runner.record.store import open_store

    daemon = open_store(store)
    try:
        open_store(store).close()  # a run's connection, beside the daemon's
        assert _read_elsewhere(store) == "0"
        daemon.skipped_run("r1", "job", ["book"], "skipped", "a row written after the read", 3)
        assert _read_elsewhere(store) == "1"  # while the daemon still runs
    finally:
        daemon.close()


def _read_elsewhere(store: Path) -> str:
    """How many runs another process sees (as `urs status` would, or a monitoring check)."""
    code = ("import sqlite3, sys\n"
            "print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM runs')"
            ".fetchone()[0])")
    return subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()

def _start(args: list[str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "runner", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)  # type: ignore[call-overload]


def test_overlapping_run_is_skipped_or_waits(tmp_path: Path, store: Path) -> None:
    started = tmp_path / "started"
    book = write(tmp_path, f"steps: [{{name: slow, run: 'touch {started}; sleep 2'}}]")
    first = _start(["run", str(book)])
    assert wait_for(started.exists)
    second = urs("run", str(book))
    assert second.returncode == 3
    assert second.stderr.startswith("skipped: another run of")
    waited = urs("run", str(book), "--wait", "60")
    assert waited.returncode == 0
    assert first.wait(timeout=60) == 0


def test_ctrl_c_kills_steps_records_interrupted_and_exits_130(tmp_path: Path, store: Path) -> None:
    pidfile = tmp_path / "pid"
    book = write(tmp_path, f"""
steps:
  - {{name: long, run: "echo $$ > {pidfile}; sleep 300"}}
  - {{name: later, needs: long, run: "true"}}
""")
    proc = _start(["run", str(book)])
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    child = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert wait_for(lambda: process_gone(child))
    assert _rows(store, "SELECT status, exit_code FROM runs") == [("interrupted", 130)]
    steps = {step: (status, reason) for step, status, reason
             in _rows(store, "SELECT step, status, reason FROM step_outcomes")}
    assert steps["long"][0] == "interrupted"  # not failed with exit code 143
    assert steps["long"][1] == "interrupted: Ctrl-C or SIGTERM"
    assert steps["later"] == ("skipped", "not started: the run was stopped (Ctrl-C or SIGTERM)")


def test_a_killed_run_is_marked_aborted_when_the_store_is_next_opened(
        tmp_path: Path, store: Path) -> None:
    started = tmp_path / "started"
    book = write(tmp_path, f"steps: [{{name: long, run: '{holding(started)}'}}]")
    proc = _start(["run", str(book)], start_new_session=True)
    try:
        assert wait_for(started.exists)
        assert _rows(store, "SELECT status FROM runs") == [("running",)]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        end_holding(started)
    assert "aborted" in urs("history").stdout
    assert _rows(store, "SELECT status FROM runs") == [("aborted",)]


# what a plain local `urs run` (no urs.yml, no --json, no module steps) must not import: SSH,
# the other commands, the configuration model, modules its steps do not use, error-only helpers
NOT_ON_A_PLAIN_RUN = ("fabric", "paramiko", "invoke", "runner.cli.daemon", "runner.cli.records",
                      "runner.cli.incidents", "runner.cli.notify", "runner.daemon",
                      "runner.config.model", "runner.notify.settings", "runner.report.jsonl",
                      "runner.modules.pm2", "runner.modules.http", "runner.modules.workflows",
                      "runner.modules.netlify", "difflib", "jinja2")


def _imported(args: list[str], cwd: Path) -> tuple[str, list[str]]:
    """What `urs ARGS` printed, and the modules it imported."""
    code = ("import sys\n"
            "from runner.cli import cli\n"
            "try:\n"
            f"    cli({args!r}, prog_name='urs')\n"
            "except SystemExit:\n"
            "    pass\n"
            "print('MODULES', ' '.join(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                         check=False)
    printed, _, modules = out.stdout.partition("MODULES ")
    assert modules, out.stdout + out.stderr
    return printed, modules.split()


def test_startup_does_not_import_what_a_plain_run_does_not_use(tmp_path: Path,
                                                              store: Path) -> None:
    book = write(tmp_path, PASSING)
    printed, modules = _imported(["run", str(book)], tmp_path)
    assert "run " in printed and "ok in" in printed, printed
    assert [m for m in modules if m.startswith(NOT_ON_A_PLAIN_RUN)] == []
    printed, modules = _imported(["--help"], tmp_path)
    assert "Usage: urs" in printed
    assert [m for m in modules if m.startswith(("fabric", "paramiko", "invoke"))] == []


def test_every_command_is_found_by_name() -> None:
    """The group imports a command's module on first use (app.LAZY): every command any
    module defines is listed there, and every name listed there exists."""
    import importlib

    from runner.cli.app import LAZY, cli

    for module in set(LAZY.values()):
        importlib.import_module(f"runner.cli.{module}")
    assert set(cli.commands) == set(LAZY)


def test_help_for_every_command() -> None:
    from runner.cli.app import LAZY

    for command in LAZY:
        out = urs(command, "--help")
        assert out.returncode == 0 and "Usage: urs " + command in out.stdout
    top = urs("--help").stdout
    assert "Exit codes: 0 all passed" in top


def test_a_playbook_whose_hosts_match_nothing(tmp_path: Path, store: Path) -> None:
    write(tmp_path, "hosts: web\nsteps: [{name: w, run: 'true'}]\n", "webonly.yml")
    write(tmp_path, "steps: [{name: a, run: 'true'}]\n", "everywhere.yml")
    alone = urs("run", str(tmp_path / "webonly.yml"))
    assert alone.returncode == 2
    assert "expected a pattern matching at least one host, found 'web'" in alone.stderr
    both = urs("run", str(tmp_path / "webonly.yml"), str(tmp_path / "everywhere.yml"))
    assert both.returncode == 0
    assert "note: webonly: hosts 'web' matches no host; skipped" in both.stderr
    assert "everywhere/a" in both.stdout and "webonly/w" not in both.stdout


def test_retention_deletes_old_runs(tmp_path: Path) -> None:
    from runner.events import RunFinished, RunStarted
    from runner.model import RunResult
    from runner.record.sqlite import SQLiteStore

    db = SQLiteStore(tmp_path / "s.db", retention=1.0)
    now = time.time()
    for run_id, age_days in (("old", 2.0), ("new", 0.5)):
        db.notify(RunStarted(run_id, "p", ("p",), ("h",), 1, False, now - age_days * 86400))
        db.notify(RunFinished(RunResult(run_id, ()), now))
    assert [r["id"] for r in db.runs()] == ["new"]
    db.close()


def test_colours_on_a_terminal_unless_no_color(tmp_path: Path, store: Path) -> None:
    import pty

    book = write(tmp_path, PASSING)

    def on_terminal(extra_env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | extra_env
        proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book)],
                                stdout=follower, stderr=follower, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[32m" in on_terminal({})
    assert "\x1b[" not in on_terminal({"NO_COLOR": "1"})
