from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh outcome store for the test, also the default of `urs` subprocesses."""
    path = tmp_path / "state" / "outcomes.db"
    monkeypatch.setenv("URS_STORE", str(path))
    return path
