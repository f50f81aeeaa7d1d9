"""`urs status` and `urs history` as an on-call engineer and a monitoring check use them:
aligned columns with headers, relative times, never `None`, filters, exit codes 0/1/4, the
output of failed steps, and status that tag-filtered runs do not overwrite."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tests.helpers import urs, write

FAILING = """
steps:
  - {name: disk, run: "echo checking; echo 'disk full' >&2; exit 3", tags: [disk]}
  - {name: memory, run: "true", tags: [memory]}
"""


def columns(text: str) -> list[dict[str, str]]:
    """Rows of a table read by the positions of its headers: a misaligned row reads wrong."""
    header, *rows = text.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    return [{name: row[start:end].strip() for name, start, end
             in zip(names, starts, [*starts[1:], None], strict=True)} for row in rows]


def test_status_exit_codes_follow_the_worst_latest_outcome(tmp_path: Path, store: Path) -> None:
    ok = write(tmp_path, "steps: [{name: fine, run: 'true'}]", "fine.yml")
    assert urs("run", str(ok)).returncode == 0
    assert urs("status").returncode == 0
    assert urs("run", str(write(tmp_path, FAILING, "host.yml"))).returncode == 1
    assert urs("status").returncode == 1
    inventory = write(tmp_path, "web-1 ansible_host=127.0.0.1 ansible_port=1\n", "hosts.ini")
    assert urs("run", str(ok), "-i", str(inventory)).returncode == 4
    assert urs("status").returncode == 4  # unreachable wins, as for `urs run`
    assert urs("status", "-l", "localhost").returncode == 1
    assert urs("status", "-p", "fine", "-l", "localhost").returncode == 0


def test_status_is_a_table_with_relative_times_and_filters(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, FAILING, "host.yml")))
    out = urs("status")
    rows = columns(out.stdout)
    assert [(r["STATUS"], r["PLAYBOOK"], r["HOST"], r["STEP"]) for r in rows] == [
        ("failed", "host", "localhost", "disk"), ("ok", "host", "localhost", "memory")]
    assert rows[0]["REASON"] == "exit code 3: disk full"
    assert rows[0]["WHEN"] in {"just now"} or rows[0]["WHEN"].endswith("s ago")
    failing = columns(urs("status", "--failing").stdout)
    assert [r["STEP"] for r in failing] == ["disk"]
    assert urs("status", "-l", "web*").returncode == 2  # a pattern that matches no host
    as_json = [json.loads(line) for line in urs("status", "--json").stdout.splitlines()]
    assert {r["step"]: r["status"] for r in as_json} == {"disk": "failed", "memory": "ok"}


def test_status_of_an_unknown_playbook_says_so(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, FAILING, "host.yml")))
    typo = urs("status", "-p", "hots")
    assert typo.returncode == 2
    assert typo.stderr == ("error: status: --playbook: no playbook 'hots' is recorded or found "
                           "(did you mean 'host'?)\n")
    builtin = urs("status", "-p", "health-pm2")
    assert (builtin.returncode, builtin.stdout) == (0, "no outcomes recorded yet for health-pm2\n")


def test_a_tag_filtered_run_leaves_the_latest_real_outcome(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, FAILING, "host.yml")
    urs("run", str(book))
    assert urs("run", str(book), "-t", "memory").returncode == 0
    assert urs("run", str(book), "--skip-tags", "disk", "--check").returncode == 0
    rows = {r["STEP"]: r for r in columns(urs("status").stdout)}
    assert rows["disk"]["STATUS"] == "failed"  # not "skipped: excluded by tags"
    assert rows["disk"]["REASON"] == "exit code 3: disk full"
    assert urs("status").returncode == 1


def test_an_ignored_failure_is_not_failing(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, "steps: [{name: shrug, run: 'exit 1', ignore_errors: true}]")))
    out = urs("status")
    assert out.returncode == 0
    assert columns(out.stdout)[0]["STATUS"] == "failed (ignored)"
    assert urs("status", "--failing").stdout == "nothing is failing\n"


def test_history_is_a_table_without_none(tmp_path: Path, store: Path) -> None:
    from runner.events import RunStarted
    from runner.record.sqlite import SQLiteStore

    book = write(tmp_path, FAILING, "host.yml")
    urs("run", str(book))
    urs("run", str(book), "-C")
    db = SQLiteStore(store)  # a run still going: no exit code, no end yet
    db.notify(RunStarted("f" * 32, "other", ("other",), ("web-1",), 1, False, time.time()))
    db.close()
    out = urs("history")
    assert "None" not in out.stdout
    rows = columns(out.stdout)
    assert (rows[0]["PLAYBOOK"], rows[0]["STATUS"], rows[0]["TOOK"]) == (
        "other", "running", "running")
    assert rows[1]["NOTE"] == "check mode" and rows[1]["STARTED"] == "just now"
    assert rows[2]["HOSTS"] == "localhost" and rows[2]["STATUS"] == "failed"
    assert len(columns(urs("history", "-n", "1").stdout)) == 1


def test_history_of_a_run_shows_the_output_of_failed_steps(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, FAILING, "host.yml")))
    (run,) = [json.loads(line) for line in urs("history", "--json").stdout.splitlines()]
    detail = urs("history", run["id"][:6]).stdout.splitlines()
    assert detail[0] == f"run {run['id']}: host failed, exit code 1"
    table = detail[detail.index("") + 1:]
    assert table[0].split() == ["STATUS", "HOST", "STEP", "TOOK", "REASON"]
    disk = next(i for i, line in enumerate(table) if "host/disk" in line)
    assert table[disk].split()[:3] == ["failed", "localhost", "host/disk"]
    assert table[disk + 1] == "    | checking"  # the tail, without the line the reason says
    assert sum(line.startswith("    |") for line in table) == 1  # none for the step that passed


def test_history_latest_and_missing_files_say_just_that(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, FAILING, "host.yml")))
    urs("run", str(write(tmp_path, "steps: [{name: a, run: 'true'}]", "other.yml")))
    assert urs("history", "latest").stdout.splitlines()[0].split()[2:4] == ["other", "ok,"]
    assert urs("history", "latest", "-p", "host").stdout.splitlines()[0].split()[2:4] == [
        "host", "failed,"]
    missing = urs("run", "playbooks/nothere.yml", cwd=tmp_path)
    assert missing.stderr == f"error: playbooks/nothere.yml: no such file (looked in {tmp_path})\n"
    typo = urs("run", "health-sytem")
    assert typo.stderr == ("error: health-sytem: no playbook of that name "
                           "(did you mean 'health-system'?)\n")


def test_history_filters_by_playbook_host_failing_and_since(tmp_path: Path, store: Path) -> None:
    import sqlite3

    (tmp_path / "playbooks").mkdir()
    write(tmp_path / "playbooks", "steps: [{name: a, run: 'true'}]", "fine.yml")
    write(tmp_path / "playbooks", "playbooks: [fine]", "master.yml")
    inventory = write(tmp_path, "web-1 ansible_connection=local\n"
                                "web-2 ansible_connection=local\n", "hosts.ini")
    assert urs("run", "fine", cwd=tmp_path).returncode == 0
    assert urs("run", "fine", cwd=tmp_path).returncode == 0  # made two days old below
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET started_at = started_at - 2 * 86400, ended_at = ended_at"
                   " - 2 * 86400 WHERE started_at = (SELECT MAX(started_at) FROM runs)")
    assert urs("run", "master", cwd=tmp_path).returncode == 0
    host = urs("run", str(write(tmp_path, FAILING, "host.yml")), "-i", str(inventory))
    assert host.returncode == 1

    def shown(*args: str) -> list[str]:
        out = urs("history", "--json", *args, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        return [json.loads(line)["playbook"] for line in out.stdout.splitlines()]

    assert shown() == ["host", "master", "fine", "fine"]
    assert shown("--failing") == ["host"]
    assert shown("-l", "web*") == shown("-l", "web-2") == ["host"]
    assert shown("-l", "all:!web-1") == ["host", "master", "fine", "fine"]
    assert shown("-p", "fine") == ["master", "fine", "fine"]  # master ran fine within it
    assert shown("-p", "fine", "--since", "1d") == ["master", "fine"]
    three_days_ago = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 3 * 86400))
    assert shown("-p", "fine", "--since", three_days_ago) == ["master", "fine", "fine"]
    assert shown("--since", "1d", "-n", "2") == ["host", "master"]
    latest = urs("history", "latest", "--failing", "-l", "web-1", cwd=tmp_path).stdout
    assert latest.startswith("run ") and " host failed, exit code 1" in latest.splitlines()[0]
    none = urs("history", "--failing", "-l", "localhost", cwd=tmp_path)
    assert (none.returncode, none.stdout) == (0, "no recorded run matches\n")


def test_history_filters_say_what_is_wrong(tmp_path: Path, store: Path) -> None:
    urs("run", str(write(tmp_path, FAILING, "host.yml")))
    typo = urs("history", "-p", "hots")
    assert typo.returncode == 2
    assert typo.stderr == ("error: history: --playbook: no playbook 'hots' is recorded or found "
                           "(did you mean 'host'?)\n")
    assert urs("history", "-l", "web*").returncode == 2  # matches no recorded host
    since = urs("history", "--since", "soon")
    assert since.returncode == 2 and "--since': expected a duration like 30m" in since.stderr
    among = urs("history", "latest", "--since", "2999-01-01")
    assert among.stderr == ("error: history: RUN_ID: expected one recorded run among those the "
                            "filters let through, found none\n")
