"""`urs history` and `urs status`: what the outcome store remembers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli.app import JsonCommand, cli, guard, open_store, show, store_option
from runner.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from runner.record.store import OutcomeStore, RunFilter



# runs that did not pass (docs/outcomes.md); `running` and the daemon's `skipped` ticks did not fail
RUN_PROBLEMS = frozenset({"failed", "unreachable", "interrupted", "crashed", "aborted", "invalid"})


def since_time(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """--since as epoch seconds: a duration ago (30m, 2h, 1d) or a date and time, read as UTC
    when it names no zone (urs shows times in UTC)."""
    import datetime as dt
    import time

    from runner.fields import parse_duration

    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds is not None:
        return time.time() - seconds
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a duration like 30m, 2h or 1d, or a date and time "
                                 f"like 2026-03-01T14:00 (UTC), found {value!r}") from None
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


@cli.command(cls=JsonCommand)
@click.argument("run_id", required=False)
@click.option("-p", "--playbook", help="Only runs of this playbook (on its own or within "
                                       "another, as `health` runs `health-system`).")
@click.option("-l", "--limit", metavar="PATTERN",
              help="Only runs on hosts matching this pattern (`web*`, `web-1,web-2`, "
                   "`all:!web-1`).")
@click.option("--failing", is_flag=True, help="Only runs that did not pass: failed, "
                                              "unreachable, interrupted, crashed, aborted, "
                                              "invalid.")
@click.option("--since", callback=since_time, metavar="WHEN",
              help="Only runs started since then: a duration ago (30m, 2h, 1d) or a date and "
                   "time (2026-03-01T14:00, UTC unless it names a zone).")
@click.option("-n", "--count", default=20, show_default=True, type=click.IntRange(1),
              help="How many of the latest runs to show.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per run (with RUN_ID: the run with its steps).")
@store_option
@guard
def history(run_id: str | None, playbook: str | None, limit: str | None, failing: bool,
            since: float | None, count: int, as_json: bool, store: Path | None) -> None:
    """Past runs, newest first; with RUN_ID (a prefix, or `latest`), its steps and output.

    For one run: each step's outcome, the output of those that failed, and what recoveries
    did (as their modules recorded it). The filters hold for RUN_ID too: `urs history latest
    --failing` is the latest run that did not pass.
    """
    from runner.record.store import RunFilter
    from runner.report import records

    db = open_store(store)
    try:
        only = _run_filter(db, playbook, limit, failing, since)
        if run_id is not None:
            run = _one_run(db, run_id, only)
            show(records.run_detail(run, db.run_steps(run["id"]), as_json), as_json=as_json)
            return
        runs = db.runs(count, only)
        filtered = only != RunFilter()
        show("no recorded run matches" if filtered and not runs and not as_json
             else records.history(runs, as_json), as_json=as_json)
    finally:
        db.close()


def _run_filter(db: OutcomeStore, playbook: str | None, limit: str | None, failing: bool,
                since: float | None) -> RunFilter:
    from runner.record.store import RunFilter

    if playbook is not None:
        _known_playbook("history", playbook, lambda: db.recorded("playbooks"))
    hosts = None
    if limit is not None:
        recorded = sorted(db.recorded("hosts"))
        hosts = frozenset(_matching(limit, recorded) if recorded else ())
    return RunFilter(playbook=playbook, hosts=hosts, statuses=RUN_PROBLEMS if failing else None,
                     since=since)


def _one_run(db: OutcomeStore, run_id: str, only: RunFilter) -> dict[str, Any]:
    """The latest run, or the one whose id starts with run_id, among those `only` lets through."""
    from runner.record.store import RunFilter

    latest = run_id == "latest"
    matches = db.runs(1 if latest else 2, only if latest else replace(only, id_prefix=run_id))
    if len(matches) == 1:
        return matches[0]
    if matches:
        found = f"several runs starting with '{run_id}'"
    else:
        found = "none" if latest else f"no run starting with '{run_id}'"
    among = "" if only == RunFilter() else " among those the filters let through"
    raise InputError.one("history", None, "RUN_ID", f"one recorded run{among}", found)


@cli.command(cls=JsonCommand)
@click.option("-p", "--playbook", help="Only this playbook.")
@click.option("-l", "--limit", metavar="PATTERN",
              help="Only hosts matching this pattern (`web*`, `web-1,web-2`, `all:!web-1`).")
@click.option("--failing", is_flag=True, help="Only steps whose latest outcome is failed, "
                                              "error, quarantined or unreachable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step outcome.")
@click.option("--stale", is_flag=True, help="Only the configured jobs whose last run is older "
                                            "than twice their interval; exit 1 if there are any.")
@store_option
@guard
def status(playbook: str | None, limit: str | None, failing: bool, as_json: bool, stale: bool,
           store: Path | None) -> None:
    """The latest outcome of every playbook, host and step; the daemon's jobs.

    Exits 0 when all is well, 1 when a step is failing, 4 when a host is unreachable.
    """
    from runner.report import records, views

    db = open_store(store)
    try:
        if stale:
            _stale(db.jobs_latest(), as_json)
        for channel in db.failing_channels():
            show(f"warning: notification channel {views.shown(channel['channel'])} is "
                 f"failing: {channel['last_error']}", err=True)
        rows = db.latest()
        if not as_json and playbook is None and limit is None:
            daemon = views.daemon_status(db.monitors(), db.jobs_latest())
            if daemon:
                show(daemon)
    finally:
        db.close()
    rows = _chosen(rows, playbook, limit)
    shown = [r for r in rows if records.failing(r)] if failing else rows
    if shown or as_json:
        show(records.status(shown, as_json), as_json=as_json)
    elif not as_json:
        show("nothing is failing" if failing and rows else _nothing(playbook))
    sys.exit(records.status_exit_code(rows))


def _chosen(rows: list[dict[str, Any]], playbook: str | None,
            limit: str | None) -> list[dict[str, Any]]:
    if playbook is not None:
        _known_playbook("status", playbook, lambda: {r["playbook"] for r in rows})
        rows = [r for r in rows if r["playbook"] == playbook]
    if limit is not None and rows:
        hosts = set(_matching(limit, [r["host"] for r in rows]))
        rows = [r for r in rows if r["host"] in hosts]
    return rows


def _known_playbook(command: str, name: str, recorded: Callable[[], set[str]]) -> None:
    """A playbook that is neither found nor recorded is a mistake: say so, with a hint. The
    playbooks on disk are looked at first: what the store recorded (every run read) only when
    the name is none of them."""
    from runner import load

    available = set(load.available(load.search_dirs()))
    if name in available:
        return
    seen = recorded()
    if name not in seen:
        raise InputError.one(command, None, "--playbook", "", f"no playbook '{name}' is "
                             "recorded or found", did_you_mean(name, seen | available))


def _matching(pattern: str, hosts: Sequence[str]) -> list[str]:
    """Recorded hosts matching an Ansible host pattern (names, globs, `a,b`, `!a`)."""
    from runner.inventory import Group, Host, Inventory
    from runner.inventory.patterns import select

    names = list(dict.fromkeys(hosts))
    inv = Inventory({h: Host(h) for h in names}, {"all": Group("all", tuple(names))})
    return select(inv, pattern, "--limit")


def _nothing(playbook: str | None) -> str:
    return f"no outcomes recorded yet for {playbook}" if playbook else "no outcomes recorded yet"


def _stale(latest: list[dict[str, Any]], as_json: bool) -> None:
    """The configured jobs that have not run for twice their interval; exit 1 if any."""
    import time

    from runner.cli.config import load_config
    from runner.daemon.schedule import period
    from runner.report import views

    config = load_config(None)
    last = {row["job"]: row for row in latest}
    now = time.time()
    late = []
    for job in config.enabled_jobs:
        seen = last.get(job.name)
        limit = 2 * period(job)
        if seen is None or now - seen["started_at"] > limit:
            late.append({"job": job.name, "last_run": seen["started_at"] if seen else None,
                         "limit_s": limit})
    show(views.stale(late, as_json), as_json=as_json)
    sys.exit(1 if late else 0)
