from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemontools import Project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project folder for daemons; the daemons still running at the end are killed."""
    proj = Project(tmp_path)
    yield proj
    for proc in proj.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
