"""The remote command line and the process-group marker it prints first."""

from __future__ import annotations

from runner.connections import Become
from runner.connections.ssh import marker_group, wrap


def test_wrap_quotes_everything_and_execs_the_step_shell() -> None:
    line = wrap("echo 'hi'; exit 3", {"A": "b c"}, "/srv/my app", Become("app"))
    assert line == ("printf 'URS:%s\\n' \"$$\"; cd '/srv/my app' && exec sudo -n -H -u app -- "
                    "env 'A=b c' /bin/sh -c 'echo '\"'\"'hi'\"'\"'; exit 3'")


def test_marker_group() -> None:
    assert marker_group(b"URS:4242\nout") == 4242
    assert marker_group(b"URS:42") is None  # the line is not complete yet
    assert marker_group(b"Welcome to the host!\nURS:42\n") is None  # never a crash
    assert marker_group(b"URS:x\n") is None
