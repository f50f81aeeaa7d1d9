"""Inventories read exactly as ansible-inventory reads them, compared against ansible-core
itself; mistakes are errors with file and line; host patterns select as Ansible's do."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.inventory.patterns import select
from runner.inventory.sources import load_inventory
from tests.helpers import ROOT, run_book, urs, write

CORPUS = ROOT / "tests" / "data" / "inventories"
CASES = {
    "ini-with-vars-folders": ["ini-vars/hosts.ini"],
    "ranges-and-ports": ["ranges.ini"],
    "ini-value-typing": ["typing.ini"],
    "children-before-definition": ["children.ini"],
    "yaml-nested": ["nested.yml"],
    "precedence": ["precedence.yml"],
    "folder": ["folder"],
    "several-sources-merged": ["merge-a.ini", "merge-b.yml"],
    "host-list": ["h1,h2:2222,web[1:2],"],
    "yaml-merge-keys": ["merge-keys.yml"],
    "ini-invalid-group-names": ["hyphens.ini"],
    "yaml-invalid-group-names": ["hyphens.yml"],
}
INVALID = sorted(p for p in (CORPUS / "invalid").iterdir() if p.suffix in (".ini", ".yml"))


def _ansible_inventory(sources: list[str], *args: str) -> str:
    exe = shutil.which("ansible-inventory")
    assert exe, "ansible-core is a test dependency: ./scripts/test installs it"
    cmd = [exe, *(a for s in sources for a in ("-i", s)), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=CORPUS, check=True,
                          env={"ANSIBLE_NOCOLOR": "1", "PATH": "/usr/bin:/bin",
                               "HOME": str(CORPUS)}).stdout


def _urs_inventory(sources: list[str], *args: str) -> str:
    out = urs("inventory", *(a for s in sources for a in ("-i", s)), *args, cwd=CORPUS)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("sources", CASES.values(), ids=CASES.keys())
def test_list_matches_ansible_inventory(sources: list[str]) -> None:
    ours = json.loads(_urs_inventory(sources, "--list"))
    theirs = json.loads(_ansible_inventory(sources, "--list"))
    assert ours == theirs


@pytest.mark.parametrize("sources", CASES.values(), ids=CASES.keys())
def test_graph_matches_ansible_inventory(sources: list[str]) -> None:
    assert _urs_inventory(sources, "--graph") == _ansible_inventory(sources, "--graph")


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_inventory_mistakes_name_file_and_line(path: Path) -> None:
    out = urs("inventory", "-i", path.name, "--list", cwd=path.parent)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr == path.with_suffix(".err").read_text()


def test_missing_inventory_file() -> None:
    out = urs("inventory", "-i", "no-such-inventory.ini")
    assert out.returncode == 2
    assert out.stderr == (f"error: no-such-inventory.ini: no such file (looked in {Path.cwd()})"
                          "\n")


def test_host_command_shows_merged_vars() -> None:
    out = json.loads(_urs_inventory(["ini-vars/hosts.ini"], "--host", "web01"))
    assert out["http_port"] == 8080 and out["tier"] == "front-override"


PATTERNS = {
    "all": 15, "*": 15, "web": 4, "web*": 4, "web:db": 7, "prod:&web": 4, "prod:!db": 4,
    "web01,db-a": 2, "~web0[12]": 2, "web[0]": 1, "web[1:2]": 2, "db[-1]": 1,
    "prod:!web[0]": 6,
}


@pytest.mark.parametrize(("pattern", "count"), PATTERNS.items(), ids=PATTERNS.keys())
def test_host_patterns(pattern: str, count: int) -> None:
    inv = load_inventory([str(CORPUS / "ini-vars" / "hosts.ini"), "x1,x2,x3,x4,x5,x6,x7,"])
    assert len(select(inv, pattern)) == count


def test_patterns_agree_with_ansible_for_limits() -> None:
    sources = ["ini-vars/hosts.ini"]
    inv = load_inventory([str(CORPUS / s) for s in sources])
    for pattern in ("web:db", "prod:&web", "prod:!db", "~web0[12]", "web*", "web[1:2]"):
        listed = _ansible_inventory(sources, "--list", "--limit", pattern)
        theirs = sorted(json.loads(listed)["_meta"]["hostvars"])
        assert sorted(select(inv, pattern)) == theirs, pattern


def test_pattern_matching_nothing_is_an_error(tmp_path: Path) -> None:
    inv = load_inventory([str(CORPUS / "ranges.ini")])
    with pytest.raises(InputError, match="matches none"):
        select(inv, "nope*")
    names = tmp_path / "names"
    names.write_text("web01\nweb02\n")
    assert select(inv, f"@{names}") == ["web01", "web02"]


def test_templates_see_magic_variables_and_precedence(tmp_path: Path) -> None:
    inv = load_inventory([str(CORPUS / "ini-vars" / "hosts.ini")])
    local = {name: host for name, host in inv.hosts.items() if name in {"web02", "db-a"}}
    from dataclasses import replace

    from runner.inventory import Inventory

    local_inv = Inventory({n: replace(h, vars={**h.vars, "ansible_connection": "local"})
                           for n, h in local.items()}, inv.groups, inv.sources)
    book = write(tmp_path, """
vars: {role: playbook-role, tz: playbook-tz}
steps:
  - name: show
    run: >
      echo {{ inventory_hostname }} {{ group_names | join(',') }} {{ role }} {{ tz }}
      {{ env_name }} {{ groups['web'] | length }} {{ hostvars['web02']['http_port'] }}
""")
    out = run_book(book, inventory=local_inv, extra={"env_name": "from-e", "tz": "from-e"})
    lines = sorted(e.result.stdout.strip() for e in out.events.events
                   if type(e).__name__ == "StepFinished")
    assert lines == ["db-a db,prod playbook-role from-e from-e 1 80",
                     "web02 prod,web playbook-role from-e from-e 1 80"]


def test_invalid_group_names_kept_warned_and_usable(tmp_path: Path) -> None:
    ini, yml = (str(CORPUS / f"hyphens.{s}") for s in ("ini", "yml"))
    assert _urs_inventory([ini], "--list") == _urs_inventory([yml], "--list")
    out = urs("inventory", "-i", ini, "--graph")
    assert out.stderr == ("warning: invalid characters were found in group names but not "
                          "replaced (as ansible-inventory does by default): web-servers, "
                          "db.main, all-prod\n")
    book = write(tmp_path, "hosts: web-servers\nsteps: [{name: s, run: 'echo {{ x }}'}]\n")
    for inv in (ini, yml):
        ran = urs("check", str(book), "-i", inv)
        assert ran.returncode == 0 and ran.stdout == "ok: book: 1 step, 1 host\n", ran.stderr
        assert "web-servers" in ran.stderr  # the same warning
        loaded = load_inventory([inv])
        assert select(loaded, "all-prod:!db.main", "--limit") == ["w1"]
        assert select(loaded, "db.main,web-servers", "--limit") == ["w1", "d1"]
