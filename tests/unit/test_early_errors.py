"""Errors found before anything runs, all at once, the same from `urs check` and `urs run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, urs

INVALID = ROOT / "tests" / "data" / "invalid"


@pytest.mark.parametrize("name", ["misspelt-filter", "all-at-once", "needs-boolean"])
def test_run_reports_what_check_reports(name: str, tmp_path: Path) -> None:
    result = urs("run", f"{name}.yml", cwd=INVALID, env={"URS_STORE": str(tmp_path / "s.db")})
    assert result.returncode == 2
    assert result.stderr == (INVALID / f"{name}.err").read_text()
    assert not (tmp_path / "s.db").exists()  # nothing ran, nothing was recorded
