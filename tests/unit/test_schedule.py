"""The urs command that schedules name, and the crontab block replaced in place."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runner.config import crontab
from runner.config.schedule import urs_command


def test_the_command_is_the_running_urs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert urs_command("/x/runner/__main__.py") == [sys.executable, "-m", "runner"]
    assert urs_command("/opt/urs/bin/urs") == ["/opt/urs/bin/urs"]
    (tmp_path / "urs").write_text("#!/bin/sh\n")
    (tmp_path / "urs").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert urs_command("urs") == [str(tmp_path / "urs")]
    monkeypatch.chdir(tmp_path)
    assert urs_command("./urs") == [str(tmp_path / "urs")]


def test_the_block_is_added_once_and_replaced_in_place() -> None:
    mine = "MAILTO=ops\n0 1 * * * backup\n"
    first = crontab.replace_block(mine, "/a/urs.yml", ["* * * * * one"])
    assert first.startswith(mine + "\n# >>> urs /a/urs.yml")
    assert crontab.replace_block(first, "/a/urs.yml", ["* * * * * one"]) == first
    other = crontab.replace_block(first + "5 5 * * * after\n", "/b/urs.yml", ["* * * * * b"])
    second = crontab.replace_block(other, "/a/urs.yml", ["*/2 * * * * two"])
    assert second.count("# >>> urs ") == 2 and "one" not in second
    assert second.index("two") < second.index("after") < second.index("/b/urs.yml")
    assert crontab.replace_block("", "/a/urs.yml", ["x"]).startswith("# >>> urs /a/urs.yml")
