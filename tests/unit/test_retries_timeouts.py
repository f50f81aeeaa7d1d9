"""Retries with backoff, per-attempt timeouts that kill whole process groups."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from runner.model import Retry
from tests.helpers import process_gone, run_book, wait_for, write


def test_retry_waits_grow_by_backoff_up_to_max_delay() -> None:
    retry = Retry(retries=5, delay=1.0, backoff=2.0, max_delay=5.0)
    assert [retry.wait_before(n) for n in range(2, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert Retry(retries=2, delay=0.5).wait_before(3) == 0.5


def test_retries_until_success_and_waits_between_attempts(tmp_path: Path) -> None:
    counter, stamps = tmp_path / "count", tmp_path / "stamps"
    book = write(tmp_path, f"""
steps:
  - name: flaky
    retries: 4
    delay: 100ms
    backoff: 2
    run: |
      n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}
      python3 -c 'import time; print(time.time())' >> {stamps}
      [ $n -ge 3 ]
""")
    out = run_book(book)
    result = out.steps["flaky"]
    assert result.status.value == "ok" and result.attempts == 3
    times = [float(t) for t in stamps.read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # lower bounds only: the waits really happened


def test_retries_exhausted_reports_attempts(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: never, retries: 2, run: 'exit 7'}]")
    result = run_book(book).steps["never"]
    assert result.status.value == "failed" and result.attempts == 3 and result.rc == 7
    assert result.reason == "exit code 7"


def test_recovery_on_a_later_attempt_counts_as_recovered(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    # the first recovery only starts the repair; the check passes on the next attempt
    book = write(tmp_path, f"""
steps:
  - name: slow-fix
    retries: 2
    check: test -e {flag}.done
    recover: "if [ -e {flag} ]; then touch {flag}.done; else touch {flag}; fi"
""")
    result = run_book(book).steps["slow-fix"]
    assert result.status.value == "recovered"
    assert result.attempts == 2


def test_timeout_kills_a_child_that_ignores_sigterm_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    book = write(tmp_path, f"""
steps:
  - name: stubborn
    timeout: 500ms
    run: |
      trap '' TERM
      sleep 300 &
      echo $! >> {pids}
      sh -c 'trap "" TERM; echo $$ >> {pids}; exec sleep 300' &
      echo $$ >> {pids}
      wait
""")
    result = run_book(book).steps["stubborn"]
    assert result.status.value == "failed"
    assert result.reason.startswith("timed out after 0.5s")
    recorded = [int(p) for p in pids.read_text().split()]
    assert len(recorded) == 3
    for pid in recorded:
        assert wait_for(lambda pid=pid: process_gone(pid)), f"process {pid} survived the timeout"


@pytest.mark.parametrize("retries", [0, 1])
def test_each_attempt_gets_its_own_timeout(tmp_path: Path, retries: int) -> None:
    book = write(tmp_path, f"""
steps:
  - {{name: slow, timeout: 200ms, retries: {retries}, run: "sleep 5"}}
""")
    result = run_book(book).steps["slow"]
    assert result.status.value == "failed" and result.attempts == retries + 1

