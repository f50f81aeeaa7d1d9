"""`urs run --json` is a contract: every line on stdout is JSON valid against
docs/events.schema.json, with the run's `run_id` and `schema_version`, errors, usage errors,
skipped runs and notices included, and nothing on stderr (so `>> urs.jsonl 2>&1` stays JSON)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers import ROOT, urs, urs_with_a_bug, wait_for, write

SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())


def lines(out: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """Every stdout line, each checked against the schema; nothing on stderr."""
    assert out.stderr == ""
    found = [json.loads(line) for line in out.stdout.splitlines()]
    for line in found:
        jsonschema.validate(line, SCHEMA)
    return found


def test_every_event_of_a_run_is_valid_and_carries_the_run_id(tmp_path: Path,
                                                               store: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: fine, run: "echo fine"}
  - {name: flaky, needs: fine, run: "exit 3", retries: 1, delay: 0.05s}
  - {name: after, needs: flaky, run: "true"}
  - {name: shrug, run: "exit 1", ignore_errors: true}
""")
    events = lines(urs("run", str(book), "--json"))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert {"step_started", "step_retrying", "step_finished", "host_finished"} <= set(kinds)
    assert {e["run_id"] for e in events} == {events[0]["run_id"]}
    assert all(e["schema_version"] == 1 for e in events)
    retry = next(e for e in events if e["event"] == "step_retrying")
    assert (retry["step"], retry["attempt"], retry["attempts"]) == ("flaky", 2, 2)
    assert retry["reason"] == "exit code 3" and retry["delay_s"] == 0.05
    assert events[-1]["exit_code"] == 1


def test_an_unreachable_host_is_valid_json_too(tmp_path: Path, store: Path) -> None:
    inventory = write(tmp_path, "web-1 ansible_host=127.0.0.1 ansible_port=1\n", "hosts.ini")
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    events = lines(urs("run", str(book), "-i", str(inventory), "--json"))
    host = next(e for e in events if e["event"] == "host_finished")
    assert host["status"] == "unreachable" and "cannot connect" in host["reason"]


@pytest.mark.parametrize(("args", "code", "text"), [
    (["no-such-playbook"], 2, "no-such-playbook: no playbook of that name"),
    (["{book}", "--forks", "0"], 2, "--forks"),
    (["{book}", "-e", "oops"], 2, "-e: expected key=value"),
    (["{book}", "--store", "/dev/null/store.db"], 5, "cannot use the outcome store"),
])
def test_errors_are_json_lines_with_their_exit_code(args: list[str], code: int, text: str,
                                                    tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    out = urs("run", *(a.format(book=book) for a in args), "--json")
    assert out.returncode == code
    (error,) = lines(out)
    assert error["event"] == "error" and error["exit_code"] == code
    assert any(text in message for message in error["errors"]), error


def test_a_run_skipped_by_the_lock_and_a_notice_are_json_lines(tmp_path: Path,
                                                                store: Path) -> None:
    started, gate = tmp_path / "started", tmp_path / "gate"
    book = write(tmp_path, f"""
steps:
  - name: hold
    run: "touch {started}; i=0; while [ ! -e {gate} ] && [ $i -lt 600 ]; do sleep 0.1; \\
i=$((i+1)); done"
""")
    first = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(started.exists)
        out = urs("run", str(book), "--json")
        assert out.returncode == 3
        (skipped,) = lines(out)
        assert skipped["event"] == "run_skipped"
        assert skipped["reason"].startswith("another run of")
    finally:
        gate.touch()
        first.wait(timeout=60)
    write(tmp_path, "hosts: web\nsteps: [{name: w, run: 'true'}]\n", "webonly.yml")
    both = lines(urs("run", str(tmp_path / "webonly.yml"), str(book), "--json"))
    notice = next(e for e in both if e["event"] == "notice")
    assert "webonly: hosts 'web' matches no host" in notice["message"]


def test_the_schema_names_every_line_urs_writes() -> None:
    source = (ROOT / "runner" / "report" / "jsonl.py").read_text()
    written = set(re.findall(r'"event": "(\w+)"', source))
    assert written == set(SCHEMA["properties"]["event"]["enum"])
    assert written == {ref["$ref"].rsplit("/", 1)[1] for ref in SCHEMA["oneOf"]}


def test_a_bug_in_urs_is_a_json_line_with_its_traceback(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    out = urs_with_a_bug("run", str(book), "--json")
    assert out.returncode == 70
    events = lines(out)
    crash = events[-1]
    assert crash["event"] == "error" and crash["exit_code"] == 70
    assert "RuntimeError: a bug outside any step" in crash["traceback"]
    assert crash["run_id"] == events[0]["run_id"]  # the id the store has it crashed under


# every other command with --json: (arguments, exit code, a part of the message)
COMMAND_ERRORS = [
    (["history", "--bogus"], 2, "No such option '--bogus'"),
    (["history", "-n", "0"], 2, "Invalid value for '-n' / '--count'"),
    (["history", "no-such-run"], 2, "history: RUN_ID: expected one recorded run"),
    (["history", "--store", "{not_a_db}"], 5, "cannot use the outcome store"),
    (["history", "--since", "soon"], 2, "Invalid value for '--since'"),
    (["history", "-p", "no-such-playbook"], 2, "no playbook 'no-such-playbook'"),
    (["status", "--bogus"], 2, "No such option '--bogus'"),
    (["status", "-p", "no-such-playbook"], 2, "no playbook 'no-such-playbook'"),
    (["status", "-l", "web*"], 2, "--limit"),
    (["status", "--store", "{tmp}"], 2, "is a directory"),
    (["incidents", "-n", "x"], 2, "Invalid value for '-n' / '--count'"),
    (["incidents", "--store", "/dev/null/store.db"], 5, "cannot use the outcome store"),
    (["config", "--bogus"], 2, "No such option '--bogus'"),
    (["config", "--config", "{bad_config}"], 2, "expected a known key"),
]


@pytest.mark.parametrize(("args", "code", "text"), COMMAND_ERRORS,
                         ids=[" ".join(c[0]) for c in COMMAND_ERRORS])
def test_with_json_every_command_says_its_error_as_json(args: list[str], code: int, text: str,
                                                        tmp_path: Path, store: Path) -> None:
    """One JSON object on stdout, nothing on stderr, the same exit code as without --json."""
    urs("run", str(write(tmp_path, "steps: [{name: a, run: 'true'}]")))  # a store with a run
    (tmp_path / "not.db").write_text("not a database")
    bad_config = write(tmp_path, "jobs: {}\nstor: x.db\n", "urs.yml")
    given = [a.format(tmp=tmp_path, not_a_db=tmp_path / "not.db", bad_config=bad_config)
             for a in args]
    out = urs(*given, "--json", cwd=tmp_path)
    assert (out.returncode, out.stderr) == (code, ""), out.stderr
    (error,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert error.keys() == {"event", "errors", "exit_code"}
    assert (error["event"], error["exit_code"]) == ("error", code)
    assert any(text in message for message in error["errors"]), error
    plain = urs(*given, cwd=tmp_path)  # without --json: text on stderr, as before
    assert (plain.returncode, plain.stdout) == (code, "")
    assert text in plain.stderr and not plain.stderr.startswith("{")


def test_a_usage_error_of_run_is_a_json_line_of_the_schema(tmp_path: Path, store: Path) -> None:
    out = urs("run", "--json", "--bogus", "x")
    (error,) = lines(out)
    assert error["exit_code"] == 2 and "No such option '--bogus'" in error["errors"][0]
    assert urs("run", "--json").returncode == 2  # a missing PLAYBOOK: JSON too
    assert json.loads(urs("run", "--json").stdout)["errors"] == ["Missing argument "
                                                                 "'PLAYBOOKS...'."]
