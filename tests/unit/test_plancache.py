"""A validated plan is reused only for the exact input it was checked with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner import load, plan
from runner.model import Playbook
from runner.modules import registry
from runner.plan import cache as plancache
from runner.plan.cache import DAY
from tests.helpers import ROOT, urs, write


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("URS_STORE", str(tmp_path / "store.db"))
    return tmp_path / "cache" / "urs" / "plans"


def _imports_after_run(book: Path, *args: str) -> str:
    code = (
        "import sys\n"
        "from runner.cli import cli\n"
        "try:\n"
        f"    cli(['run', {str(book)!r}, *{list(args)!r}], prog_name='urs')\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code)\n"
        "print('LOADED', sorted(m for m in ('networkx', 'jinja2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    return out.stdout


def test_a_valid_playbook_is_planned_without_networkx(tmp_path: Path, cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    first = _imports_after_run(book)
    assert "EXIT 0" in first and "LOADED []" in first
    assert len(list(cache.glob("*.json"))) == 1


def test_an_unchanged_playbook_skips_template_parsing_the_second_time(tmp_path: Path,
                                                                       cache: Path) -> None:
    # only `recover` is templated: a healthy run renders nothing, so only the check parses
    book = write(tmp_path, "vars: {svc: web}\n"
                           "steps: [{name: a, check: 'true', recover: 'echo {{ svc }}'}]")
    first = _imports_after_run(book)
    assert "EXIT 0" in first and "LOADED ['jinja2']" in first
    second = _imports_after_run(book)
    assert "EXIT 0" in second and "LOADED []" in second


def test_a_cycle_is_explained_with_networkx(tmp_path: Path, cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, needs: b, run: 'true'}, "
                           "{name: b, needs: a, run: 'true'}]")
    out = _imports_after_run(book)
    assert "EXIT 2" in out and "'networkx'" in out
    assert not list(cache.glob("*.json"))


def test_a_changed_playbook_is_checked_again(tmp_path: Path, cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    assert urs("run", str(book)).returncode == 0
    write(tmp_path, "steps: [{name: a, needs: b, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    out = urs("run", str(book))
    assert out.returncode == 2 and "a cycle: a -> b -> a" in out.stderr


def test_variables_known_outside_are_part_of_the_key(tmp_path: Path, cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'echo {{ x }}'}]")
    assert urs("run", str(book), "-e", "x=1").returncode == 0
    out = urs("run", str(book))
    assert out.returncode == 2 and "expected a defined variable, found 'x'" in out.stderr


def test_a_damaged_cache_entry_is_rebuilt(tmp_path: Path, cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    assert urs("run", str(book)).returncode == 0
    (entry,) = cache.glob("*.json")
    entry.write_text("{not json")
    assert urs("run", str(book)).returncode == 0
    assert plancache.read(entry.stem, {("", "a")}) == ((("", "a"),), {("", "a"): ()})
    assert plancache.read(entry.stem, {("", "other")}) is None


def test_a_tampered_entry_that_contradicts_the_playbook_is_not_used(tmp_path: Path,
                                                                    cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    assert urs("run", str(book)).returncode == 0
    (entry,) = cache.glob("*.json")
    # b before a, and a needing b: a cycle the playbook does not have
    entry.write_text(json.dumps({"order": [["", "b"], ["", "a"]],
                                 "preds": [["", "a", [["", "b"]]], ["", "b", []]]}))
    out = urs("run", str(book), "--json")
    assert out.returncode == 0
    finished = [json.loads(x)["step"] for x in out.stdout.splitlines() if "step_finished" in x]
    assert finished == ["a", "b"]


KEY_IN_A_PROCESS = """
import json, sys
from runner import load, plan
from runner.modules import registry
from runner.plan import cache
book = load.load([sys.argv[1]], {k: m.fields for k, m in registry().items()})
plan.build(book, {"x", "y", "z"})
print(json.dumps(sorted(p.name for p in cache.folder().glob("*.json"))))
"""

SETS_AND_MAPPINGS = """
vars: {b: 1, a: {d: [1, 2], c: 3}}
steps:
  - name: one
    tags: [disk, memory, load, ports, http, pm2]
    ok_codes: [0, 1, 2, 3, 4, 5]
    env: {B: "2", A: "1", C: "3"}
    run: 'true'
  - name: two
    needs: one
    tcp: {host: localhost, port: 22}
"""


def test_the_same_playbook_has_the_same_key_in_every_process(tmp_path: Path) -> None:
    # sets (tags, ok_codes) iterate in an order that depends on the process's hash seed
    book = write(tmp_path, SETS_AND_MAPPINGS)
    keys = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "XDG_CACHE_HOME": str(tmp_path / seed)}
        out = subprocess.run([sys.executable, "-c", KEY_IN_A_PROCESS, str(book)], env=env,
                             capture_output=True, text=True, cwd=ROOT, check=True)
        keys.add(out.stdout)
    assert len(keys) == 1 and len(json.loads(keys.pop())) == 1


def _books(path: Path) -> tuple[Playbook, ...]:
    return plan.unique_books(load.load([str(path)], {k: m.fields for k, m in registry().items()}))


def test_the_key_changes_with_the_playbook_the_known_names_and_the_code(tmp_path: Path) -> None:
    books = _books(write(tmp_path, SETS_AND_MAPPINGS))
    same = _books(write(tmp_path, SETS_AND_MAPPINGS, "copy.yml"))
    changed = _books(write(tmp_path, SETS_AND_MAPPINGS.replace("pm2]", "pm3]"), "changed.yml"))
    key = plancache.key(books, {"x"})
    assert plancache.key(same, {"x"}) != key  # the path is part of a playbook
    assert plancache.key(_books(tmp_path / "book.yml"), {"x"}) == key
    assert plancache.key(changed, {"x"}) != plancache.key(same, {"x"})
    assert plancache.key(books, {"y"}) != key
    assert plancache.key(books, None) != plancache.key(books, ())
    assert plancache.key(books, {"x"}, code="edited") != plancache.key(books, {"x"}, code="old")


def test_the_code_digest_covers_the_code_that_validates_and_orders(tmp_path: Path) -> None:
    copy = tmp_path / "runner"
    shutil.copytree(ROOT / "runner", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert plancache.code_digest(copy) == plancache.code_digest()
    for edited in ("plan/graph.py", "templating/__init__.py", "load/schema.py", "model.py"):
        digest = plancache.code_digest(copy)
        plancache.code_digest.cache_clear()
        with (copy / edited).open("a") as source:
            source.write("# edited\n")
        assert plancache.code_digest(copy) != digest, edited
    plancache.code_digest.cache_clear()
    digest = plancache.code_digest(copy)
    with (copy / "execute" / "step.py").open("a") as source:  # runs plans, does not check them
        source.write("# edited\n")
    plancache.code_digest.cache_clear()
    assert plancache.code_digest(copy) == digest


def _entry(where: Path, name: str, age_days: float, now: float) -> Path:
    path = where / f"{name}.json"
    path.write_text('{"order": [["", "a"]], "preds": [["", "a", []]]}')
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_entries_unused_for_30_days_are_pruned_at_most_once_a_day(tmp_path: Path,
                                                                  cache: Path) -> None:
    cache.mkdir(parents=True)
    now = time.time()
    old, recent = _entry(cache, "old", 31, now), _entry(cache, "recent", 28, now)
    used = _entry(cache, "used", 45, now)
    assert plancache.read("used", {("", "a")}) is not None  # reading marks it used
    assert plancache.prune(cache, now) == 1
    assert not old.exists() and recent.exists() and used.exists()
    later = _entry(cache, "later", 40, now)
    assert plancache.prune(cache, now + DAY / 2) == 0 and later.exists()
    assert plancache.prune(cache, now + DAY + 1) == 1 and not later.exists()
    assert recent.exists() and used.exists()


def test_writing_an_entry_prunes_the_folder(tmp_path: Path, cache: Path) -> None:
    cache.mkdir(parents=True)
    old = _entry(cache, "old", 31, time.time())
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    plan.build(load.load([str(book)], {}), ())
    assert not old.exists() and len(list(cache.glob("*.json"))) == 1
