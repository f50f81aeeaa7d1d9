"""Intervals become cron steps only where cron keeps the same rhythm (checked by cronsim's
own schedule), and cron schedules become systemd calendar events that fire at the same times
(checked against `systemd-analyze calendar`)."""

from __future__ import annotations

import itertools
import re
import subprocess
from datetime import datetime, timedelta

import pytest

from runner.config import cron

START = datetime(2026, 3, 1, 0, 0)


def gaps(expression: str, count: int = 50) -> set[timedelta]:
    runs = cron.next_runs(expression, START, count)
    return {b - a for a, b in itertools.pairwise(runs)}


@pytest.mark.parametrize("seconds", [60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800,
                                     21600, 43200, 86400, 604800])
def test_exact_intervals_keep_their_rhythm(seconds: int) -> None:
    expression, why = cron.from_interval(seconds)
    assert why == ""
    assert gaps(expression) == {timedelta(seconds=seconds)}


@pytest.mark.parametrize(("seconds", "runs_every", "why"), [
    (30, 60, "cron runs at most once a minute, not every 30s"),
    (2700, 1800, "every 45m is no cron step; this runs every 30m"),
    (5400, 3600, "every 90m is no cron step; this runs every 1h"),
    (432000, 86400, "every 5d is no cron step; this runs every 1d"),
])
def test_other_intervals_say_why_and_run_more_often(seconds: int, runs_every: int,
                                                     why: str) -> None:
    expression, said = cron.from_interval(seconds)
    assert said == why
    assert gaps(expression) == {timedelta(seconds=runs_every)}


def test_cron_expressions_are_checked() -> None:
    assert cron.problem("*/5 * * * *") is None and cron.problem("@hourly") is None
    assert cron.problem("61 * * * *") == "bad minute"
    assert cron.problem("* * *") == "five fields: minute hour day-of-month month day-of-week"
    assert cron.problem("* * * * * *") == cron.problem("* * *")


def systemd_next(calendar: str, count: int) -> list[datetime]:
    out = subprocess.run(["systemd-analyze", "calendar", f"--iterations={count}",
                          f"--base-time={START:%Y-%m-%d %H:%M:%S} UTC", calendar],
                         capture_output=True, text=True, timeout=30, check=True,
                         env={"TZ": "UTC"})
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+) UTC", out.stdout)
    return [datetime.fromisoformat(s) for s in stamps]


@pytest.mark.parametrize("expression", [
    "*/5 * * * *", "30 2 * * 1-5", "0 9-17 * * *", "15,45 */2 * * *", "0 0 1 */3 *",
    "@daily", "@weekly", "0 12 * * 0", "0 6 * * 6,0", "5 4 10 * *",
])
def test_systemd_calendar_fires_when_cron_does(expression: str) -> None:
    calendar, why = cron.to_calendar(expression)
    assert calendar is not None, why
    assert systemd_next(calendar, 12) == cron.next_runs(expression, START, 12)


@pytest.mark.parametrize(("expression", "why"), [
    ("0 0 1 * 1", "cron runs when either the day of month or of week matches; systemd needs "
                  "both"),
    ("0 0 * jan *", "names in 'jan' have no systemd form here"),
    ("0 1-10/2 * * *", "a stepped range '1-10/2' has no systemd form"),
])
def test_cron_without_a_systemd_form_says_why(expression: str, why: str) -> None:
    assert cron.to_calendar(expression) == (None, why)


# urs.yml's `cron` (the daemon's schedule, `urs schedule`'s crontab lines): what Debian cron
# takes, as cronsim reads it, plus cron's @macros. The same verdicts as before the move.
@pytest.mark.parametrize(("expression", "problem"), [
    ("@hourly", None), ("@daily", None), ("@weekly", None), ("@Monthly", None),
    ("30 2 * * MON-FRI", None), ("0 0 1 jan,jul *", None), ("*/15 9-17 * * 1-5", None),
    ("0 0 * * 7", None),  # cron takes 7 for Sunday
    ("0 */6 1-31/2 * sun", None),
    ("@reboot", "five fields: minute hour day-of-month month day-of-week"),
    ("0 0 30 2 *", "bad day-of-month"),  # never comes
    ("0 0 * 13 *", "bad month"), ("0 0 * * 8", "bad day-of-week"), ("5-1 * * * *", "bad minute"),
    ("*/0 * * * *", "bad minute"), ("0 0 * * MON-", "bad day-of-week"),
    # cronsim's extensions, which cron refuses (`urs schedule` writes these lines to a crontab)
    *[(e, "cron's own syntax: numbers, month and day names, * , - and / (not L, W, # or ?)")
      for e in ("0 0 L * *", "0 0 * * 5L", "0 0 LW * *", "0 0 15W * *", "0 0 * * MON#2",
                "0 0 ? * MON")],
])
def test_urs_yml_cron_expressions(expression: str, problem: str | None) -> None:
    assert cron.problem(expression) == problem


# A workflow's `on.schedule` cron, as GitHub Actions reads it: (expression, accepted). Where the
# verdict differs from croniter's (the library these checks used before), GitHub refuses the
# expression and so does actionlint (tests/integration/test_actionlint.py compares them).
WORKFLOW_CRONS = [
    ("*/5 * * * *", True), ("0 0 * * MON", True), ("0 0 * JAN *", True),
    ("0 0 * jan-mar mon-fri", True), ("0 0 * JAN-DEC/2 *", True), ("0 0 * * 1-5/2", True),
    ("15,45 */2 1-15 * *", True), ("00 00 01 01 *", True),
    ("0 0 ? * MON", True),  # `?` is `*` in the day fields
    ("0 25 * * *", False), ("60 * * * *", False), ("0 0 0 * *", False), ("0 0 * 13 *", False),
    ("*/0 * * * *", False), ("1,,2 * * * *", False), ("* * * *", False), ("0 0 * * 8", False),
    ("* * * * * *", False), ("@hourly", False), ("@daily", False), ("H * * * *", False),
    ("0 0 * * MON-", False), ("0 0 * * 5L", False), ("0 0 LW * *", False),
    # croniter took these; GitHub refuses them
    ("0 0 * * 7", False), ("0 0 * * 0-7", False),  # weekdays are 0-6 on GitHub
    ("0 0 L * *", False), ("0 0 * * 1#2", False), ("0 0 15W * *", False),  # not POSIX cron
    ("R * * * *", False), ("5-1 * * * *", False), ("0 0 30 2 *", False),  # never comes
]


@pytest.mark.parametrize(("expression", "accepted"), WORKFLOW_CRONS)
def test_workflow_schedule_crons(expression: str, accepted: bool) -> None:
    from runner.modules.workflows.validate import github_cron, validate

    assert (github_cron(expression) is not None) == accepted
    text = f"on:\n  schedule:\n    - cron: '{expression}'\njobs:\n  a: {{runs-on: x, steps: " \
           "[{run: a}]}\n"
    findings = [str(f) for f in validate("w.yml", text).findings]
    assert (findings == []) == accepted, findings
    assert accepted or any("invalid cron" in f for f in findings)


def test_a_workflow_schedule_gap_reads_names_and_question_marks() -> None:
    from runner.modules.workflows.health import _interval

    assert _interval({"schedule": [{"cron": "0 0 ? * MON"}, {"cron": "0 */6 * * *"},
                                   {"cron": "0 0 * * 7"}]}) == 6 * 3600
    assert _interval({"schedule": [{"cron": "30 2 * * mon-fri"}]}) in {86400, 3 * 86400}
    assert _interval({"schedule": [{"cron": "0 0 L * *"}]}) is None
