"""Workflow files: each file of the corpus gets its expected finding, with file, line and
column; backups and restores round-trip through the real playbooks on this machine's files."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.modules.workflows.validate import validate
from tests.helpers import ROOT, Outcome, run_book

CORPUS = ROOT / "tests" / "data" / "workflows"
VALID = sorted((CORPUS / "valid").glob("*.yml"))
INVALID = sorted((CORPUS / "invalid").glob("*.yml"))
EXPECT = re.compile(r"^# expect: (\d+:\d+: .*)$", re.M)
GOOD = (CORPUS / "valid" / "matrix.yml").read_text()
GOOD_DISPATCH = (CORPUS / "valid" / "dispatch-inputs.yml").read_text()


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_workflows_have_no_findings(path: Path) -> None:
    assert [str(f) for f in validate(path.name, path.read_text()).findings] == []


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_each_broken_workflow_gets_its_finding(path: Path) -> None:
    (expected,) = EXPECT.findall(path.read_text())
    found = [str(f) for f in validate(path.name, path.read_text()).findings]
    assert any(f.startswith(f"{path.name}:{expected}") for f in found), found


def test_on_is_a_key_not_true_and_repeated_keys_are_named() -> None:
    parsed = validate("w.yml", "on: push\non: pull_request\njobs: {}\n")
    assert parsed.data is None or "on" in parsed.data
    assert [str(f) for f in parsed.findings] == ["w.yml:2:1: key 'on' is repeated"]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "checkout" / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(GOOD)
    (folder / "marketing-sync.yml").write_text(GOOD_DISPATCH)
    (folder / "marketing-sync-backup.yml").write_text(GOOD_DISPATCH)
    return tmp_path / "checkout"


def recover(repo: Path, check_mode: bool = False) -> Outcome:
    return run_book(ROOT / "playbooks" / "recover-workflows.yml", check_mode=check_mode,
                    extra={"repo_path": str(repo), "actionlint": ""})


def health(repo: Path) -> Outcome:
    return run_book(ROOT / "playbooks" / "health-workflows.yml",
                    extra={"repo_path": str(repo), "actionlint": ""})


def backups(repo: Path) -> Path:
    return repo / ".github" / "workflows-backup"


def test_backups_are_taken_with_an_index_then_health_passes(repo: Path) -> None:
    before = health(repo)
    assert before.status("workflows-valid") == "ok"
    assert before.status("workflows-backed-up") == "failed"
    assert "no backup of ci.yml" in before.steps["workflows-backed-up"].reason
    out = recover(repo)
    assert out.status("backups-refreshed") == "changed"
    assert out.status("workflow-runs") == "skipped"
    index = json.loads((backups(repo) / "index.json").read_text())["files"]
    assert sorted(index) == ["ci.yml", "marketing-sync-backup.yml", "marketing-sync.yml"]
    import hashlib

    assert index["ci.yml"]["sha256"] == hashlib.sha256(GOOD.encode()).hexdigest()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", index["ci.yml"]["taken_at"])
    assert (backups(repo) / "ci.yml").read_text() == GOOD
    after = health(repo)
    assert after.status("workflows-backed-up") == "ok", after.steps["workflows-backed-up"]
    assert recover(repo).status("backups-refreshed") == "ok"  # nothing stale: nothing written


def test_a_broken_workflow_is_restored_atomically_keeping_mode_and_the_broken_file(
        repo: Path) -> None:
    recover(repo)
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text("on: push\njobs:\n  a: {runs-on: x, steps: [{run: '${{ oops'}]}\n")
    ci.chmod(0o600)
    out = recover(repo)
    assert out.status("workflows-valid") == "recovered", out.steps["workflows-valid"]
    assert ci.read_text() == GOOD and ci.stat().st_mode & 0o777 == 0o600
    (kept,) = (backups(repo) / "broken").glob("ci.yml.*")
    assert "oops" in kept.read_text()
    assert out.steps["workflows-valid"].fields["restored"] == ["ci.yml"]
    assert not list(ci.parent.glob(".urs-tmp*"))


def test_a_missing_or_emptied_workflow_is_restored(repo: Path) -> None:
    recover(repo)
    (repo / ".github" / "workflows" / "ci.yml").unlink()
    (repo / ".github" / "workflows" / "marketing-sync.yml").write_text("")
    check = health(repo).steps["workflows-valid"]
    assert check.status == "failed"
    assert "ci.yml is missing" in check.reason and "marketing-sync.yml:1:1: empty" in check.reason
    assert "marketing-sync-backup.yml stands in for marketing-sync.yml" in check.reason
    out = recover(repo)
    assert out.status("workflows-valid") == "recovered"
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == GOOD
    assert (repo / ".github" / "workflows" / "marketing-sync.yml").read_text() == GOOD_DISPATCH


def test_check_mode_says_what_would_be_restored_and_changes_nothing(repo: Path) -> None:
    recover(repo)
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text("jobs: [")
    listing = sorted(p.name for p in backups(repo).iterdir())
    out = recover(repo, check_mode=True)
    step = out.steps["workflows-valid"]
    assert step.status == "failed"
    assert re.search(r"would restore ci\.yml from its backup of \d{4}-", step.reason)
    assert ci.read_text() == "jobs: ["
    assert sorted(p.name for p in backups(repo).iterdir()) == listing


def test_a_corrupt_backup_is_never_restored(repo: Path) -> None:
    recover(repo)
    (backups(repo) / "ci.yml").write_text(GOOD.replace("pytest", "rm -rf /"))  # still valid YAML
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text("jobs: [")
    out = recover(repo)
    step = out.steps["workflows-valid"]
    assert step.status == "failed"
    assert "backup of ci.yml is corrupt" in step.reason and "not restored" in step.reason
    assert ci.read_text() == "jobs: ["


def test_a_broken_file_never_replaces_a_good_backup(repo: Path) -> None:
    recover(repo)
    (repo / ".github" / "workflows" / "ci.yml").write_text("jobs: [")
    (backups(repo) / "ci.yml").unlink()  # so restore cannot fix it; the refresh still runs
    out = recover(repo)
    assert out.status("workflows-valid") == "failed"
    assert "no backup of ci.yml" in out.steps["workflows-valid"].reason
    assert out.status("backups-refreshed") == "ok"
    assert "not backed up while invalid: ci.yml" in out.steps["backups-refreshed"].stdout
    assert not (backups(repo) / "ci.yml").exists()


def test_no_good_backup_fails_with_the_reason(repo: Path) -> None:
    (repo / ".github" / "workflows" / "ci.yml").write_text("jobs: [")
    out = recover(repo)
    assert out.status("workflows-valid") == "failed"
    assert "recovery failed: no backup of ci.yml" in out.steps["workflows-valid"].reason


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder cannot be written, even by root (a read-only bind mount)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield
        folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_workflows_folder_fails_with_the_reason(repo: Path) -> None:
    recover(repo)
    folder = repo / ".github" / "workflows"
    (folder / "ci.yml").write_text("jobs: [")
    with read_only(folder):
        out = recover(repo)
    step = out.steps["workflows-valid"]
    assert step.status in {"failed", "error"}
    assert "cannot write .github/workflows/ci.yml" in step.reason
    assert re.search(r"Read-only file system|Permission denied", step.reason)
    assert (folder / "ci.yml").read_text() == "jobs: ["


def test_a_fresh_machine_has_no_workflows_and_passes(tmp_path: Path) -> None:
    out = health(tmp_path)
    assert out.status("workflows-valid") == "ok"
    assert out.steps["workflows-valid"].stdout.startswith("no workflows here (no .github")
    assert out.status("workflows-backed-up") == "ok"
    assert out.status("workflow-runs") == "skipped"


def test_actionlint_absent_is_said_once_never_a_failure(repo: Path) -> None:
    out = run_book(ROOT / "playbooks" / "health-workflows.yml",
                   extra={"repo_path": str(repo), "actionlint": "no-such-actionlint"})
    step = out.steps["workflows-valid"]
    assert step.status == "ok"
    assert step.stdout.count("actionlint not found") == 1


def _heavy_after(*runs: list[str], env: dict[str, str]) -> list[str]:
    import sys

    code = (
        "import sys\n"
        "from runner.cli import cli\n"
        f"for args in {list(runs)!r}:\n"
        "    try:\n"
        "        cli(args, prog_name='urs')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} &\n"
        "      {'httpx', 'jsonschema', 'cronsim', 'check_jsonschema'}))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"GITHUB_TOKEN", "GH_TOKEN"}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**clean, **env}, check=False)
    found = re.search(r"HEAVY (\[.*\])", out.stdout)
    assert found, out.stdout + out.stderr
    return list(json.loads(found.group(1).replace("'", '"')))


def test_no_api_call_no_httpx_and_no_workflow_no_schema(repo: Path, tmp_path: Path) -> None:
    env = {"URS_STORE": str(tmp_path / "s.db")}
    fresh = ["run", "health-workflows", "-e", f"repo_path={tmp_path}"]
    assert _heavy_after(["--help"], fresh, env=env) == []
    files_only = ["run", "health-workflows", "-e", f"repo_path={repo}", "-e", "actionlint="]
    assert _heavy_after(files_only, env=env) == ["cronsim"]  # all valid: no explanation needed


def test_the_fast_schema_check_agrees_with_jsonschema_on_the_corpus() -> None:
    from runner.modules.workflows import validate as checks
    from runner.modules.workflows.parse import parse

    assert checks._quick() is not None
    for path in [*VALID, *INVALID]:
        data = parse(path.name, path.read_text()).data
        if data is not None:
            full = not list(checks._validator().iter_errors(data))
            assert checks._schema_valid(data) == full, path.name


def test_the_compiled_schema_is_kept_only_where_no_one_else_can_write(tmp_path: Path) -> None:
    from runner.modules.workflows import schema_cache

    code = "def validate_x(data):\n    return data\n"
    assert schema_cache.store("s", "validate_x", code)(5) == 5  # type: ignore[misc]
    (kept,) = schema_cache.folder().glob("s-*.bin")
    assert schema_cache.load("s") is not None
    kept.chmod(0o666)
    assert schema_cache.load("s") is None
    kept.write_bytes(b"not marshal data")
    kept.chmod(0o600)
    assert schema_cache.load("s") is None


def test_an_alias_bomb_is_a_finding_not_a_hang() -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
             for p, c in zip("abcdef", "bcdefg", strict=True)]
    found = [str(f) for f in validate("bomb.yml", "\n".join(rows) + "\n").findings]
    assert found == ["bomb.yml:1:1: YAML: more than 100000 values (aliases expanding?)"]
