"""A validated plan is reused only for the exact input it was checked with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.plan import cache as plancache
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


def test_an_unchanged_playbook_skips_networkx_the_second_time(tmp_path: Path,
                                                              cache: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    first = _imports_after_run(book)
    assert "EXIT 0" in first and "'networkx'" in first
    assert len(list(cache.glob("*.json"))) == 1
    second = _imports_after_run(book)
    assert "EXIT 0" in second and "LOADED []" in second


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
    import json

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
