"""The words the console and the read-only commands use: counts, durations, relative times,
skip reasons of `when` in the playbook's own names, the progress line of a long step."""

from __future__ import annotations

import io
import time

import pytest

from runner.execute.when import when_false
from runner.report.console import ConsoleReporter
from runner.report.progress import Progress
from runner.report.text import ago, delay, duration, one_line, plural, table


def test_plural() -> None:
    assert (plural(1, "step"), plural(0, "step"), plural(2, "host")) == (
        "1 step", "0 steps", "2 hosts")


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.004, "0.00s"), (12.345, "12.35s"), (59.99, "59.99s"), (65, "1m 05s"),
    (3599.4, "59m 59s"), (7380, "2h 03m"),
])
def test_durations_are_human_past_a_minute(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_delays_read_as_written() -> None:
    assert (delay(4), delay(0.5), delay(120)) == ("4s", "0.5s", "2m 00s")


@pytest.mark.parametrize(("age", "shown"), [
    (1, "just now"), (42, "42s ago"), (180, "3 min ago"), (7200, "2 h ago"),
    (86400, "1 day ago"), (3 * 86400, "3 days ago"),
])
def test_relative_times(age: float, shown: str) -> None:
    assert ago(1_000_000 - age, now=1_000_000) == shown
    assert ago(None) == "-"


def test_table_columns_line_up_under_their_headers() -> None:
    assert table(("A", "LONGER", "LAST"), [("xyz", "1", "tail"), ("q", "22", "")]) == [
        "A    LONGER  LAST", "xyz  1       tail", "q    22"]


STEPS = {"pm2-present": {}, "pm2_present": {}, "daemon-alive": {}, "daemon_alive": {},
         "plain": {}}


def test_a_cell_is_one_line_a_terminal_cannot_act_on() -> None:
    assert one_line("a\x1b[2J\r\nb\tc\x9b") == "a\\x1b[2J\\x0d\\nb\\tc\\x9b"
    assert one_line("unicode é and spaces stay") == "unicode é and spaces stay"
    header, row = table(("STEP", "REASON"), [("two\nlines", "exit code 1:\rhidden")])
    assert row == "two\\nlines  exit code 1:\\x0dhidden"
    assert header == "STEP        REASON"


@pytest.mark.parametrize(("expression", "reason"), [
    ("steps.pm2_present.installed", "needs pm2-present, which was not installed"),
    ("not steps.pm2_present.dump_empty", "needs pm2-present, which was dump empty"),
    ("steps.daemon_alive.status == 'recovered' or steps.plain.rc == 0",
     "when was false: daemon-alive.status == 'recovered' or plain.rc == 0"),
    ("http_url | length > 0", "when was false: http_url | length > 0"),
])
def test_when_reasons_name_steps_as_written(expression: str, reason: str) -> None:
    assert when_false(expression, STEPS) == reason


def test_progress_names_the_longest_running_step_after_a_while() -> None:
    shown: list[str] = []
    progress = Progress(shown.append, long_s=2.0, every_s=3600)
    try:
        progress.started("web-1", "slow")
        progress.started("web-2", "quick")
        now = time.monotonic()
        assert progress.line(now) == ""  # not long yet
        assert progress.line(now + 65).startswith("  running     web-1  slow  1m 05s")
        assert progress.line(now + 65).endswith("(and 1 more)")
        progress.finished("web-1", "slow")
        progress.finished("web-2", "quick")
        assert progress.line(now + 65) == ""
    finally:
        progress.stop()


def test_no_progress_and_no_colour_off_a_terminal() -> None:
    reporter = ConsoleReporter(stream=io.StringIO())
    assert reporter.progress is None and not reporter.colour


def test_history_shows_what_a_recovery_did() -> None:
    from runner.report.records import what_it_did

    step = {"status": "recovered", "fields": {
        "source": "dump", "apps": [{"name": "api"}],
        "restarted": [{"name": "api", "from": "errored", "attempts": 1, "recovered": True}]}}
    assert what_it_did(step) == [
        "source: dump", "restarted: api (from errored, attempts 1, recovered true)"]
    assert what_it_did({**step, "status": "failed"}) == []


def test_a_lost_connection_is_said_once() -> None:
    from runner.events import RunStarted, StepFinished
    from runner.model import Status, StepResult

    out = io.StringIO()
    reporter = ConsoleReporter(stream=out)
    reporter.notify(RunStarted("r" * 32, "book", ("book",), ("web-1",), 3, False, 0.0,
                               labels=("long", "next", "last")))
    lost = "connection lost: socket closed"
    reporter.notify(StepFinished(StepResult("book", "web-1", "long", Status.FAILED, reason=lost),
                                 "long"))
    for step in ("next", "last"):
        reporter.notify(StepFinished(
            StepResult("book", "web-1", step, Status.UNREACHABLE, reason=lost), step))
    assert out.getvalue().count(lost) == 1


def test_the_daemons_jobs_are_a_table_with_relative_times() -> None:
    from runner.report.views import daemon_status

    jobs = [{"job": "pm2", "status": "ok", "started_at": 1000.0, "reason": None},
            {"job": "netlify", "status": "skipped", "started_at": 1170.0,
             "reason": "the previous run is still running"}]
    assert daemon_status([], jobs, now=1180.0).splitlines() == [
        "JOB      STATUS   STARTED    REASON",
        "pm2      ok       3 min ago",
        "netlify  skipped  10s ago    the previous run is still running"]
