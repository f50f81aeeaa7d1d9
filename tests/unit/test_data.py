"""The data-driven suite: every invalid playbook fails with exactly its expected error text
(exit code 2, no traceback); every valid one plans to exactly its expected graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, urs

DATA = ROOT / "tests" / "data"
INVALID = sorted((DATA / "invalid").glob("*.yml"))
VALID = sorted((DATA / "valid").glob("*.yml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_playbook_reports_expected_errors(path: Path) -> None:
    result = urs("check", path.name, cwd=path.parent)
    expected = path.with_suffix(".err").read_text()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr == expected
    assert result.stdout == ""


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_playbook_plans_as_expected(path: Path) -> None:
    result = urs("graph", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == path.with_suffix(".plan").read_text()
    checked = urs("check", path.name, cwd=path.parent)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: ")


def test_every_data_file_has_its_expectation() -> None:
    assert INVALID and VALID
    for path in INVALID:
        assert path.with_suffix(".err").is_file(), path
    for path in VALID:
        assert path.with_suffix(".plan").is_file(), path
