"""A daemon job reads its files again when they change, even when the change leaves their size
and modification time as they were (saved twice within the file system's timestamp tick, or
while the daemon was reading them)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from runner.config import Job
from runner.daemon.jobs import JobRunner
from tests.helpers import write


def commands(runner: JobRunner) -> list[str]:
    return [str(node.step.action.args["cmd"]) for node in runner._prepare().plan.ordered()]


def test_a_file_changed_lately_is_read_again_until_it_is_older(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: hello, run: 'echo one'}]", "quick.yml")
    runner = JobRunner(Job("quick", (str(book),)), tmp_path / "store.db", logging.getLogger())
    assert commands(runner) == ["echo one"]
    before = book.stat()
    book.write_text("steps: [{name: hello, run: 'echo two'}]")  # the same size
    os.utime(book, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same tick
    assert commands(runner) == ["echo two"]
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(book, ns=(hour_ago, hour_ago))
    prepared = runner._prepare()
    assert runner._prepare() is prepared  # files that did not change lately are not read
