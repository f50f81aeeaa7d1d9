"""Masking by name covers Ansible's password variables and nested mappings, never file paths,
and the common transformations of a secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from runner.inventory.sources import load_inventory
from runner.redact import MASK, Redactor, secret_values
from tests.helpers import run_book, urs, write

SECRET = "s3cr3t-Pa/ss+wo rd"


def test_names_that_mark_secrets() -> None:
    values = {
        "ansible_ssh_pass": "one-pass", "ansible_password": "two-pass",
        "ansible_become_pass": "three-pass", "db_pass": "four-pass", "passenger": "not-me",
        "ansible_ssh_private_key_file": "/home/ops/.ssh/id_ed25519",
        "tls_key_path": "/etc/tls/key.pem", "compass": "north-west",
        "service": {"name": "api", "api_token": "nested-tok", "creds": {"password": "deep-pw"}},
        "vault": {"secret_things": ["in-a-list", {"x": "in-a-map"}]},
    }
    found = set(secret_values(values))
    assert found == {"one-pass", "two-pass", "three-pass", "four-pass", "nested-tok", "deep-pw",
                     "in-a-list", "in-a-map"}


def test_transformations_are_masked() -> None:
    redactor = Redactor([SECRET])
    raw = SECRET.encode()
    for form in (SECRET, SECRET.upper(), SECRET.lower(), base64.b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode().rstrip("="), quote(SECRET, safe=""),
                 quote_plus(SECRET)):
        assert redactor.text(f"before {form} after") == f"before {MASK} after", form


def test_inventory_passwords_masked_key_file_paths_shown(tmp_path: Path) -> None:
    inv = write(tmp_path, "[web]\nlocalhost ansible_connection=local ansible_ssh_pass=hunter2-ssh "
                "ansible_become_pass=hunter2-sudo ansible_ssh_private_key_file=/keys/id_web\n"
                "[web:vars]\napp={'db': {'password': 'hunter2-nested'}}\n", "hosts.ini")
    book = write(tmp_path, """
steps:
  - name: leak
    run: >-
      echo "{{ ansible_ssh_pass }} {{ ansible_become_pass | upper }}
      {{ app.db.password | urlencode }} {{ ansible_ssh_private_key_file }}"; exit 1
""")
    redactor = Redactor()
    outcome = run_book(book, inventory=load_inventory([str(inv)]), redactor=redactor)
    shown = outcome.steps["leak"]
    text = json.dumps([shown.stdout, shown.stderr, shown.reason])
    assert "hunter2" not in text and "HUNTER2" not in text
    assert base64.b64encode(b"hunter2-nested").decode() not in text
    assert "/keys/id_web" in shown.stdout
    assert shown.stdout.count(MASK) == 3


def test_another_hosts_secret_reached_through_hostvars_is_masked(tmp_path: Path) -> None:
    """Every host's variables are scanned once per run (not once per host): a secret of a
    host the run does not target, read through `hostvars`, is masked too."""
    inv = write(tmp_path, "[web]\nlocalhost ansible_connection=local\n"
                "[db]\ndb1 ansible_host=127.0.0.9 db_password=hunter2-db\n", "hosts.ini")
    book = write(tmp_path, """
hosts: web
steps:
  - name: leak
    run: echo "{{ hostvars['db1'].db_password }} {{ hostvars['db1'].db_password | upper }}"
""")
    out = urs("run", str(book), "-i", str(inv), "-v", "--store", str(tmp_path / "s.db"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hunter2" not in out.stdout.lower() and out.stdout.count(MASK) == 2, out.stdout
    assert "db1" not in out.stdout


def test_a_variable_named_like_a_shared_one_is_scanned_as_any_other(tmp_path: Path) -> None:
    """`env`, `groups` and `hostvars` are scanned once per run while they are urs's own; a
    playbook variable of that name replaces them and is scanned with the host's context."""
    book = write(tmp_path, """
vars: {env: {API_TOKEN: s3cr3t-value-123}, creds: {API_TOKEN: other-secret-456}}
steps:
  - name: leak
    run: echo "{{ env.API_TOKEN }} {{ creds.API_TOKEN }}"
""")
    shown = run_book(book).steps["leak"]
    assert shown.status == "ok", shown.reason
    assert "s3cr3t" not in shown.stdout and shown.stdout.count(MASK) == 2


def test_a_value_a_module_declares_secret_is_masked_like_secrets(tmp_path: Path) -> None:
    """A module that reads a token from a variable of any name (Netlify's `token_env`) says
    so with call.secret: the run masks it, and its transformations, wherever it writes text."""
    from runner.modules import ActionResult, ModuleCall

    class Reads:
        name, doc, fields = "reads", "test module", {}

        def run(self, call: ModuleCall) -> ActionResult:
            call.secret("pat-1234567890")
            return ActionResult(False, stdout="pat-1234567890 PAT-1234567890",
                                reason="denied for pat-1234567890")

    shown = run_book(write(tmp_path, "steps: [{name: api, reads: {}}]"),
                     modules={"reads": Reads()}).steps["api"]
    assert (shown.stdout, shown.reason) == (f"{MASK} {MASK}", f"denied for {MASK}")
