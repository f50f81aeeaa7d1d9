"""Incidents across separate `urs run` processes, from the store: opened after N consecutive
failures, counted on, resolved when the step passes again; check-mode runs and skipped steps
never count; the flap guard quarantines a recovery that keeps running until released."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.helpers import urs, write


def _incidents(project: Path, *args: str) -> list[dict[str, object]]:
    out = urs("incidents", "--json", *args, cwd=project)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def _project(tmp_path: Path, escalation: str = "") -> Path:
    write(tmp_path, f"store: {tmp_path / 'store.db'}\njobs: {{}}\n{escalation}", "urs.yml")
    return tmp_path


def test_an_incident_opens_after_3_failures_counts_on_and_resolves(tmp_path: Path) -> None:
    project = _project(tmp_path)
    flag = tmp_path / "healthy"
    book = write(tmp_path, f"steps: [{{name: web, check: 'test -e {flag}'}}]")
    for _ in range(2):
        assert urs("run", str(book), cwd=project).returncode == 1
    assert _incidents(project) == []
    assert urs("run", str(book), "--check", cwd=project).returncode == 1  # never counts
    assert _incidents(project) == []
    assert urs("run", str(book), cwd=project).returncode == 1
    [opened] = _incidents(project)
    assert (opened["playbook"], opened["step"], opened["host"]) == ("book", "web", "localhost")
    assert (opened["state"], opened["failures"]) == ("open", 3)
    assert opened["last_reason"] == "exit code 1"
    assert urs("run", str(book), cwd=project).returncode == 1
    [still] = _incidents(project)
    assert (still["id"], still["failures"]) == (opened["id"], 4)
    shown = urs("incidents", cwd=project).stdout
    assert f"#{opened['id']}" in shown and "book/web on localhost" in shown
    assert "4 failures" in shown and "notified: nobody (no channel configured)" in shown
    flag.touch()
    assert urs("run", str(book), cwd=project).returncode == 0
    assert _incidents(project) == []
    [resolved] = _incidents(project, "--all")
    assert resolved["state"] == "resolved" and resolved["resolved_at"]
    assert _notice_events(tmp_path) == ["opened", "resolved"]


def _notice_events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "store.db") as db:
        return [r[0] for r in db.execute("SELECT event FROM notices ORDER BY id")]


def test_thresholds_per_playbook_and_step_and_escalation_by_failures(tmp_path: Path) -> None:
    project = _project(tmp_path, "escalation:\n  thresholds: {book/web: 1}\n"
                                 "  escalate_after_failures: 2\n")
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}, {name: db, run: 'exit 1'}]")
    assert urs("run", str(book), cwd=project).returncode == 1
    assert [i["step"] for i in _incidents(project)] == ["web"]  # db needs 3
    for _ in range(2):
        urs("run", str(book), cwd=project)
    assert sorted(i["step"] for i in _incidents(project)) == ["db", "web"]
    assert sorted(_notice_events(tmp_path)) == ["escalated", "opened", "opened"]


def test_skipped_and_interrupted_steps_neither_count_nor_resolve(tmp_path: Path) -> None:
    project = _project(tmp_path, "escalation:\n  max_failures: 2\n")
    book = write(tmp_path, """
steps:
  - {name: web, run: 'exit 1', tags: [web]}
  - {name: other, run: 'true', tags: [other]}
""")
    urs("run", str(book), cwd=project)
    urs("run", str(book), "--tags", "other", cwd=project)  # web skipped: no count, no resolve
    assert _incidents(project) == []
    urs("run", str(book), cwd=project)
    assert [i["failures"] for i in _incidents(project)] == [2]


def test_ack_stops_reminders_and_says_what_it_did(tmp_path: Path) -> None:
    project = _project(tmp_path, "escalation:\n  max_failures: 1\n  remind_every: 1ms\n")
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    urs("run", str(book), cwd=project)
    [incident] = _incidents(project)
    acked = urs("ack", str(incident["id"]), cwd=project)
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    again = urs("ack", str(incident["id"]), cwd=project)
    assert again.returncode == 2 and "an open incident not acknowledged yet" in again.stderr
    [incident] = _incidents(project)
    assert incident["acked_at"]


def test_a_flapping_recovery_is_quarantined_until_released(tmp_path: Path) -> None:
    project = _project(tmp_path, "escalation:\n  max_recoveries: 2\n  max_failures: 5\n")
    flag = tmp_path / "up"
    recovered = tmp_path / "recoveries"
    book = write(tmp_path, f"""
steps:
  - {{name: crash, run: 'rm -f {flag}'}}
  - name: app
    needs: crash
    check: 'test -e {flag}'
    recover: 'touch {flag}; echo x >> {recovered}'
""")
    for _ in range(3):  # the third recovery is more than 2 within the hour
        assert urs("run", str(book), cwd=project).returncode == 0
    held = urs("run", str(book), "--json", cwd=project)
    assert held.returncode == 1
    app = next(e for e in map(json.loads, held.stdout.splitlines())
               if e["event"] == "step_finished" and e["step"] == "app")
    assert app["status"] == "quarantined"
    assert "recovery withheld: its recovery ran 3 times within 1h (more than 2)" in app["reason"]
    assert recovered.read_text().count("x") == 3  # not recovered while quarantined
    [incident] = _incidents(project)  # a quarantine opens an incident at once
    assert incident["last_status"] == "quarantined"
    released = urs("release", "book", "app", "-l", "localhost", cwd=project)
    assert released.returncode == 0 and "released 1 quarantine of book/app" in released.stdout
    assert urs("release", "book", cwd=project).returncode == 1  # nothing left to release
    assert urs("run", str(book), cwd=project).returncode == 0
    assert recovered.read_text().count("x") == 4
    assert _incidents(project) == []  # recovered: resolved


def test_a_quarantined_step_with_ignore_errors_is_ignored_as_a_failed_one_is(
        tmp_path: Path) -> None:
    project = _project(tmp_path, "escalation:\n  max_recoveries: 1\n  max_failures: 5\n")
    flag = tmp_path / "up"
    book = write(tmp_path, f"""
steps:
  - {{name: crash, run: 'rm -f {flag}'}}
  - {{name: app, needs: crash, check: 'test -e {flag}', recover: 'touch {flag}',
      ignore_errors: true}}
  - {{name: after, needs: app, run: 'true'}}
""")
    for _ in range(2):  # the second recovery is more than 1 within the hour
        assert urs("run", str(book), cwd=project).returncode == 0
    held = urs("run", str(book), "--json", cwd=project)
    steps = {e["step"]: e for e in map(json.loads, held.stdout.splitlines())
             if e["event"] == "step_finished"}
    assert (steps["app"]["status"], steps["app"]["ignored"]) == ("quarantined", True)
    assert steps["after"]["status"] == "ok" and held.returncode == 0
