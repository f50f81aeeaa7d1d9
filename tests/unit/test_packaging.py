"""The installed package holds every package of the source tree (a new one is easy to forget)."""

from __future__ import annotations

import tomllib

from tests.helpers import ROOT


def test_pyproject_lists_every_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {str(p.parent.relative_to(ROOT)).replace("/", ".")
             for p in (ROOT / "runner").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
