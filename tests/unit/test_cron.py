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
