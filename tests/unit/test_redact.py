"""Secrets are masked by value in everything urs writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.helpers import urs, write

BOOK = """
secrets:
  db_password: "{{ env.DB_PASS }}"
steps:
  - name: leak-secret
    run: echo "connecting with {{ db_password }} now"
  - name: leak-env
    run: echo "token=$API_TOKEN" >&2; exit 1
  - name: quiet
    no_log: true
    run: echo "private stuff"
"""


def test_secrets_env_tokens_and_no_log_are_masked_everywhere(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, BOOK)
    env = {"DB_PASS": "hunter2-db-pass", "API_TOKEN": "tok-9f8e7d6c5b4a"}
    console = urs("run", str(book), env=env)
    as_json = urs("run", str(book), "--json", env=env)
    assert console.returncode == 1 and as_json.returncode == 1
    db = sqlite3.connect(store)
    stored = json.dumps(db.execute("SELECT * FROM step_outcomes").fetchall())
    for text in (console.stdout + console.stderr, as_json.stdout, stored):
        assert "hunter2-db-pass" not in text
        assert "tok-9f8e7d6c5b4a" not in text
        assert "private stuff" not in text
        assert "********" in text
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    quiet = next(e for e in events if e["event"] == "step_finished" and e["step"] == "quiet")
    assert quiet["stdout"] == "(hidden: no_log)"
    leak = next(e for e in events if e["event"] == "step_finished" and e["step"] == "leak-secret")
    assert leak["stdout"] == "connecting with ******** now\n"


def test_secret_in_a_check_mode_reason_is_masked(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, """
secrets: {password: "{{ env.MY_SECRET }}"}
steps:
  - {name: gate, check: "false", recover: "login --password {{ password }}"}
""")
    out = urs("run", str(book), "--check", env={"MY_SECRET": "s3cr3t-value"})
    assert "would recover: login --password ********" in out.stdout
    assert "s3cr3t-value" not in out.stdout
