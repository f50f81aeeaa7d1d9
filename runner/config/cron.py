"""Cron expressions: checked with cronsim, intervals turned into cron steps, cron schedules
turned into systemd calendar events where the meaning is the same."""

from __future__ import annotations

import re
from datetime import datetime

from runner.config.settings import format_duration

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def expand(expression: str) -> str:
    return MACROS.get(expression.strip().lower(), expression.strip())


# names cron takes for months and days of the week; anything else but digits and `* , - /`
# is one of cronsim's extensions (L, W, #, ?), which cron itself refuses: `urs schedule` writes
# the same expression into a crontab, so urs.yml takes what cron takes
_NAMES = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat",
                    re.IGNORECASE)
_CRON_CHARS = re.compile(r"[0-9*,/-]*")


def problem(expression: str) -> str | None:
    """None when cron accepts the expression, else what is wrong with it."""
    from cronsim import CronSim, CronSimError

    fields = expand(expression).split()
    if len(fields) != 5:  # cronsim also takes a seconds field; cron does not
        return "five fields: minute hour day-of-month month day-of-week"
    if not all(_CRON_CHARS.fullmatch(_NAMES.sub("0", f)) for f in fields):
        return "cron's own syntax: numbers, month and day names, * , - and / (not L, W, # or ?)"
    try:
        CronSim(expand(expression), datetime(2000, 1, 1))
    except CronSimError as exc:
        return str(exc).lower()
    return None


def next_runs(expression: str, after: datetime, count: int) -> list[datetime]:
    from cronsim import CronSim

    runs = CronSim(expand(expression), after)
    return [next(runs) for _ in range(count)]


def from_interval(seconds: float) -> tuple[str, str]:
    """A cron schedule for an interval, and "" when exact or why it is not."""
    minutes = seconds / 60
    if seconds < 60:
        return "* * * * *", f"cron runs at most once a minute, not every {format_duration(seconds)}"
    if minutes.is_integer() and minutes < 60 and 60 % minutes == 0:
        return ("* * * * *" if minutes == 1 else f"*/{minutes:.0f} * * * *"), ""
    hours = minutes / 60
    if hours.is_integer() and hours < 24 and 24 % hours == 0:
        return ("0 * * * *" if hours == 1 else f"0 */{hours:.0f} * * *"), ""
    if hours == 24:
        return "0 0 * * *", ""
    if hours == 168:
        return "0 0 * * 0", ""
    return _nearest(minutes, seconds)


def _nearest(minutes: float, seconds: float) -> tuple[str, str]:
    """The longest exact step shorter than the interval: checks run a little more often."""
    steps = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440]
    step = max(s for s in steps if s <= minutes)
    expression, _ = from_interval(step * 60)
    return expression, (f"every {format_duration(seconds)} is no cron step; this runs every "
                        f"{format_duration(step * 60)}")


def to_calendar(expression: str) -> tuple[str | None, str]:
    """A systemd OnCalendar= value with the same meaning, or None and why there is none."""
    fields = expand(expression).split()
    if len(fields) != 5:
        return None, "not a five-field cron expression"
    minute, hour, dom, month, dow = fields
    if dom != "*" and dow != "*":
        return None, "cron runs when either the day of month or of week matches; systemd needs both"
    try:
        parts = [_calendar_field(f, first) for f, first in ((month, "1"), (dom, "1"), (hour, "0"),
                                                                (minute, "0"))]
        days = "" if dow == "*" else _weekdays(dow) + " "
    except ValueError as exc:
        return None, str(exc)
    return f"{days}*-{parts[0]}-{parts[1]} {parts[2]}:{parts[3]}:00", ""


def _calendar_field(text: str, first: str) -> str:
    if any(c.isalpha() for c in text):
        raise ValueError(f"names in '{text}' have no systemd form here")
    out = []
    for item in text.split(","):
        base, _, step = item.partition("/")
        base = first if base == "*" and step else base.replace("-", "..")
        if step and ".." in base:
            raise ValueError(f"a stepped range '{item}' has no systemd form")
        out.append(f"{base}/{step}" if step else base)
    return ",".join(out)


def _weekdays(text: str) -> str:
    out = []
    for item in text.split(","):
        if "/" in item or not all(p.isdigit() for p in item.split("-")):
            raise ValueError(f"day of week '{item}' has no systemd form here")
        ends = [_DAYS[int(p)] for p in item.split("-")]
        out.append("..".join(ends))
    return ",".join(out)
