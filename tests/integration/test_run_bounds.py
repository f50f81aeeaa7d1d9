"""Every run ends, within bounds, and its record is true: the `urs` command with timeouts,
detached processes, huge output, broken pipes, unusable stores, bugs and overlapping runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT, process_gone, urs, urs_with_a_bug, wait_for, write


def _rows(store: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(sql).fetchall()


def _kill(pidfile: Path) -> None:
    for word in pidfile.read_text().split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(word), signal.SIGKILL)


def test_a_command_that_leaves_a_process_holding_its_output_ends_at_once(
        tmp_path: Path, store: Path) -> None:
    pids = tmp_path / "pids"
    book = write(tmp_path, f"""
steps:
  - {{name: detached, run: "setsid sleep 600 & echo $! >> {pids}; echo started"}}
  - {{name: background, run: "sleep 600 & echo $! >> {pids}; echo started"}}
""")
    try:
        out = urs("run", str(book), "--json", timeout=60)  # the sleeps last 600 s
        steps = {e["step"]: e for e in map(json.loads, out.stdout.splitlines())
                 if e["event"] == "step_finished"}
        assert out.returncode == 0, out.stdout
        assert steps["detached"]["stdout"] == "started\n"
        assert steps["background"]["status"] == "ok"
        # what recover started keeps running: that is what `recover: daemon &` wants
        assert all(not process_gone(int(p)) for p in pids.read_text().split())
    finally:
        _kill(pids)


def test_the_timeout_holds_when_a_left_process_keeps_the_pipes_open(
        tmp_path: Path, store: Path) -> None:
    pids = tmp_path / "pids"
    book = write(tmp_path, f"""
steps:
  - name: hangs
    run: "setsid sleep 600 & echo $! >> {pids}; echo $$ >> {pids}; sleep 600"
    timeout: 1s
""")
    try:
        out = urs("run", str(book), timeout=60)
        assert out.returncode == 1
        assert "timed out after 1s; its processes were killed" in out.stdout
    finally:
        _kill(pids)


def test_a_step_printing_a_lot_keeps_a_bounded_tail_in_memory(tmp_path: Path) -> None:
    code = (
        "import resource\n"
        "from runner.connections.local import LocalConnection\n"
        "res = LocalConnection().run('head -c 300000000 /dev/zero | tr \"\\\\0\" x')\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "print(res.rc, len(res.stdout), res.stdout[:4], peak)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120)
    rc, kept, head, peak_mb = out.stdout.split()
    assert rc == "0" and head == "[...", out.stdout
    assert int(kept) < 9 * 1024 * 1024
    assert int(peak_mb) < 200  # 300 MB printed, a bounded tail kept


def test_playbook_and_run_timeouts_bound_every_step(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, """
timeout: 1s
steps:
  - {name: slow, run: "sleep 60"}
  - {name: own, run: "sleep 60", timeout: 0.5s}
  - {name: quiet, run: "echo started; exec >&- 2>&-; sleep 60"}
""")
    out = urs("run", str(book), "--json", timeout=60)
    reasons = {e["step"]: e["reason"] for e in map(json.loads, out.stdout.splitlines())
               if e["event"] == "step_finished"}
    assert reasons == {"slow": "timed out after 1s; its processes were killed",
                       "own": "timed out after 0.5s; its processes were killed",
                       # it closed its output: nothing left to read, its deadline holds still
                       "quiet": "timed out after 1s; its processes were killed"}
    plain = write(tmp_path, "steps: [{name: slow, run: 'sleep 60'}]", "plain.yml")
    out = urs("run", str(plain), "--timeout", "1s", timeout=60)
    assert "timed out after 1s" in out.stdout
    bad = urs("run", str(plain), "--timeout", "soon")
    assert bad.returncode == 2 and "expected a duration like 30s" in bad.stderr


def test_max_runtime_stops_the_run_and_records_interrupted(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: long, run: "sleep 60"}
  - {name: later, needs: long, run: "true"}
""")
    out = urs("run", str(book), "--max-runtime", "1s", timeout=60)
    assert out.returncode == 130, out.stdout
    steps = {s: (st, r) for s, st, r in
                 _rows(store, "SELECT step, status, reason FROM step_outcomes")}
    assert steps["long"] == ("interrupted",
                             "interrupted: the run's deadline passed (--max-runtime 1s)")
    assert steps["later"][0] == "skipped"
    assert _rows(store, "SELECT status FROM runs") == [("interrupted",)]
    status = urs("status")
    assert "interrupted" in status.stdout and "failed" not in status.stdout


def test_ctrl_c_stops_a_template_that_is_still_rendering(tmp_path: Path, store: Path) -> None:
    loops = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    book = write(tmp_path, f'steps: [{{name: spin, run: "echo {loops}", timeout: 1h}}]')
    proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book), "--json"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == "step_started":
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert _rows(store, "SELECT status FROM step_outcomes") == [("interrupted",)]


def _piped(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, check=False)


def test_a_closed_pipe_never_stops_the_run_or_its_record(tmp_path: Path, store: Path) -> None:
    steps = "\n".join(f"  - {{name: s{i}, run: 'echo {i}'}}" for i in range(30))
    book = write(tmp_path, f"steps:\n{steps}\n")
    urs_cmd = f"{sys.executable} -m runner run {book}"
    first = _piped(f"{urs_cmd} --json | head -1", tmp_path)
    assert json.loads(first.stdout)["event"] == "run_started"
    second = _piped(f"{urs_cmd} | head -2", tmp_path)
    assert len(second.stdout.splitlines()) == 2
    assert "Traceback" not in first.stderr + second.stderr
    assert _rows(store, "SELECT status FROM runs") == [("ok",), ("ok",)]
    assert _rows(store, "SELECT COUNT(*) FROM step_outcomes") == [(60,)]


def test_a_store_that_cannot_be_used_is_one_line_and_exit_5(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, " * 100)
    under_a_file = garbage / "outcomes.db"
    for path in (garbage, under_a_file):
        for args in (["run", str(book)], ["history"], ["status"]):
            out = urs(*args, "--store", str(path))
            assert out.returncode == 5, (args, out.stderr)
            assert out.stderr.startswith(f"error: cannot use the outcome store {path}: ")
            assert len(out.stderr.splitlines()) == 1, out.stderr
            assert out.stdout == ""


def test_a_bug_in_urs_exits_70_and_records_the_run_as_crashed(tmp_path: Path,
                                                             store: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    out = urs_with_a_bug("run", str(book))
    assert out.returncode == 70
    assert "RuntimeError: a bug outside any step" in out.stderr
    assert "internal error" in out.stderr
    [(status, exit_code, trace)] = _rows(store, "SELECT status, exit_code, traceback FROM runs")
    assert (status, exit_code) == ("crashed", 70)
    assert "a bug outside any step" in str(trace)


def test_the_lock_is_keyed_on_the_files_that_run(tmp_path: Path, store: Path) -> None:
    started = tmp_path / "started"
    book = write(tmp_path, f"steps: [{{name: slow, run: 'touch {started}; sleep 30'}}]")
    first = subprocess.Popen([sys.executable, "-m", "runner", "run", "./book.yml"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        assert wait_for(started.exists)
        second = urs("run", str(book.resolve()))
        assert second.returncode == 3
        assert "another run of book is in progress" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_files_that_share_a_name_do_not_exclude_each_other(tmp_path: Path, store: Path) -> None:
    # each run waits until the other one has started: excluded, one would be skipped
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for mine, other in ((one, two), (two, one)):
        write(mine, f"""
steps:
  - name: meet
    run: "touch {mine}/here; i=0; while [ ! -e {other}/here ] && [ $i -lt 600 ]; do
          sleep 0.05; i=$((i+1)); done; test -e {other}/here"
""")
    procs = [subprocess.Popen([sys.executable, "-m", "runner", "run", str(d / "book.yml")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for d in (one, two)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]


def test_a_lock_held_past_its_deadline_is_reported(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from runner.record.lock import RunLock, lock_key\n"
        f"lock = RunLock(Path({str(store.parent / 'locks')!r}), "
        f"lock_key([{str(book)!r}], []), 'book')\n"
        "lock.acquire(0, deadline_s=0.01)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()  # held until the test closes stdin\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        out = urs("run", str(book))
        assert out.returncode == 3
        assert f"pid {holder.pid}" in out.stderr
        assert "is past its deadline" in out.stderr and "may be hung" in out.stderr
    finally:
        holder.communicate(timeout=30)


def test_a_store_of_the_previous_version_is_upgraded_in_place(tmp_path: Path) -> None:
    from runner.record.migrations import MIGRATIONS, V1

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1)
        db.execute("INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status, "
                   "started_at, pid, control_host) VALUES ('old1', 'health', '[]', '[]', 0, "
                   "'ok', 1.0, 1, 'x')")
    out = urs("history", "--store", str(path))
    assert out.returncode == 0 and "old1" in out.stdout
    assert _rows(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    columns = {row[1] for row in _rows(path, "PRAGMA table_info(step_outcomes)")}
    assert "check_mode" in columns


def test_processes_opening_a_new_store_at_once_each_apply_every_version_once(
        tmp_path: Path) -> None:
    from runner.record.migrations import MIGRATIONS

    code = ("import sys\nfrom pathlib import Path\nfrom runner.record.sqlite import SQLiteStore\n"
            "SQLiteStore(Path(sys.argv[1])).close()\n")
    for round_ in range(5):
        path = tmp_path / f"new{round_}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path)],
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
        assert all(rc == 0 for rc, _ in results), results
        assert _rows(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_status_reads_the_latest_outcomes_kept_by_the_store(tmp_path: Path) -> None:
    """Version 4 keeps each step's latest outcome in a table (backfilled from older stores,
    then kept by a trigger): status shows exactly what grouping every outcome showed."""
    from runner.record.migrations import MIGRATIONS, V1

    path = tmp_path / "v3.db"
    now = time.time() - 60  # within the retention period
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:3]:
            db.executescript(script if script is V1 else script.replace("IF NOT EXISTS", ""))
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status, "
                   "started_at, pid, control_host) VALUES ('r1', 'book', '[]', '[]', 0, 'ok', "
                   "?, 1, 'x')", (now,))
        for number, (step, status) in enumerate([("a", "failed"), ("b", "ok"), ("a", "ok")]):
            db.execute("INSERT INTO step_outcomes (run_id, playbook, host, step, status, "
                       "attempts, duration_s, reason, stdout_tail, stderr_tail, changed, "
                       "started_at, ended_at, fields) VALUES ('r1', 'book', 'h', ?, ?, 1, 0, "
                       "'', '', '', 0, ?, ?, '{}')", (step, status, now + number, now + number))
    out = urs("status", "--json", "--store", str(path))
    assert out.returncode == 0, out.stderr
    assert sorted((r["step"], r["status"]) for r in _json_rows(out.stdout)) == \
        [("a", "ok"), ("b", "ok")]
    book = write(tmp_path, "steps:\n  - name: a\n    run: 'false'\n", "book.yml")
    urs("run", str(book), "--store", str(path))
    out = urs("status", "--json", "--store", str(path), "-p", "book")
    assert sorted((r["host"], r["step"], r["status"]) for r in _json_rows(out.stdout)) == \
        [("h", "a", "ok"), ("h", "b", "ok"), ("localhost", "a", "failed")]
    assert _rows(path, "SELECT COUNT(*) FROM latest_steps") == [(3,)]


def _json_rows(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# the version 4 of an earlier urs (ffc711b): the latest_steps table, a trigger without WHEN,
# and no escalation tables (they came as version 4 of the next release)
EARLIER_V4 = """
CREATE TABLE IF NOT EXISTS latest_steps (
    playbook TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (playbook, host, step)
) WITHOUT ROWID;
INSERT OR REPLACE INTO latest_steps (playbook, host, step, id)
    SELECT playbook, host, step, MAX(id) FROM step_outcomes GROUP BY playbook, host, step;
CREATE TRIGGER IF NOT EXISTS latest_steps_insert AFTER INSERT ON step_outcomes BEGIN
    INSERT OR REPLACE INTO latest_steps (playbook, host, step, id)
        VALUES (NEW.playbook, NEW.host, NEW.step, NEW.id);
END;
"""


def test_a_store_of_the_earlier_version_4_is_upgraded_with_every_table(tmp_path: Path) -> None:
    from runner.record.migrations import MIGRATIONS

    path = tmp_path / "earlier.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        for script in (*MIGRATIONS[:3], EARLIER_V4):
            db.executescript(script)
        db.execute("PRAGMA user_version = 4")
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1', tags: [web]}, "
                           "{name: db, run: 'true', tags: [db]}]")
    assert urs("run", str(book), "--store", str(path)).returncode == 1
    assert urs("run", str(book), "--tags", "db", "--store", str(path)).returncode == 0
    assert _rows(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert _rows(path, "SELECT failures FROM streaks WHERE step = 'web'") == [(1,)]
    status = {r["step"]: r["status"] for r in
              _json_rows(urs("status", "--json", "--store", str(path)).stdout)}
    assert status == {"web": "failed", "db": "ok"}  # a step skipped by tags keeps its outcome
