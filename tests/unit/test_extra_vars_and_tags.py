"""`-e` values typed by the variable's default (wrong types are errors), unused `-e`
variables warned about, and `--tags`/`--skip-tags` naming no step's tag refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import urs, write

BOOK = """
defaults:
  max_disk_percent: 90
  ratio: 0.5
  enabled: true
vars:
  name: web
steps:
  - name: show
    run: echo {{ max_disk_percent + 1 }} {{ ratio * 2 }} {{ enabled }} {{ name }}
    tags: [disk, web]
  - name: other
    run: "true"
    tags: db
"""


def _stdout(out: str) -> str:
    events = [json.loads(line) for line in out.splitlines()]
    return str(next(e["stdout"] for e in events if e.get("step") == "show"
                    and e["event"] == "step_finished"))


def test_wrong_types_for_defaults_are_errors(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, BOOK)
    out = urs("run", str(book), "-e", "max_disk_percent=abc ratio=x enabled=maybe")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (
        f"error: -e: max_disk_percent: expected a whole number (the default of "
        f"'max_disk_percent' in {book} is 90), found 'abc'\n"
        f"error: -e: ratio: expected a number (the default of 'ratio' in {book} is 0.5), "
        "found 'x'\n"
        f"error: -e: enabled: expected true or false (the default of 'enabled' in {book} is "
        "true), found 'maybe'\n")
    assert urs("check", str(book), "-e", "max_disk_percent=9.5").returncode == 2


def test_text_that_fits_takes_the_defaults_type(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, BOOK)
    out = urs("run", str(book), "--json", "-e", "max_disk_percent=95 ratio=1 enabled=no",
              "-e", '{"name": "db"}')
    assert out.returncode == 0, out.stderr
    assert _stdout(out.stdout) == "96 2.0 False db\n"
    assert out.stderr == ""


def test_unused_extra_vars_are_warnings(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, BOOK)
    out = urs("run", str(book), "-e", "max_dsk_percent=3 unrelated=1 ansible_user=ops")
    assert out.returncode == 0
    assert out.stderr == ("warning: -e max_dsk_percent: no playbook uses it (did you mean "
                          "'max_disk_percent'?)\nwarning: -e unrelated: no playbook uses it\n")


def test_unknown_tags_are_errors(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, BOOK)
    out = urs("run", str(book), "--tags", "dsik,web", "--skip-tags", "dbb")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (
        "error: --tags: expected a tag some step has (db, disk, web), found 'dsik' (did you "
        "mean 'disk'?)\nerror: --skip-tags: expected a tag some step has (db, disk, web), "
        "found 'dbb' (did you mean 'db'?)\n")
    ran = urs("run", str(book), "--tags", "web", "--json")
    assert ran.returncode == 0 and _stdout(ran.stdout) == "91 1.0 True web\n"
