"""`urs history` and `urs status`: what the outcome store remembers."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from runner.cli.app import cli, guard, open_store
from runner.errors import InputError, did_you_mean

STORE_HELP = "The outcome store (default: $URS_STORE or the user's state directory)."


@cli.command()
@click.argument("run_id", required=False)
@click.option("-p", "--playbook", help="Only runs of this playbook.")
@click.option("-n", "--count", default=20, show_default=True, type=click.IntRange(1),
              help="How many of the latest runs to show.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per run (with RUN_ID: the run with its steps).")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path), help=STORE_HELP)
@guard
def history(run_id: str | None, playbook: str | None, count: int, as_json: bool,
            store: Path | None) -> None:
    """Past runs, newest first; with RUN_ID (a prefix, or `latest`), its steps and output.

    For one run: each step's outcome, the output of those that failed, and what recoveries
    did (as their modules recorded it).
    """
    from runner.report import records

    db = open_store(store)
    try:
        if run_id is None:
            click.echo(records.history(db.runs(count, playbook), as_json))
            return
        matches = db.runs(1, playbook) if run_id == "latest" else \
            db.runs(100_000, playbook, id_prefix=run_id)
        if len(matches) != 1:
            raise InputError.one("history", None, "RUN_ID", "one recorded run",
                                 f"{len(matches)} runs starting with '{run_id}'")
        click.echo(records.run_detail(matches[0], db.run_steps(matches[0]["id"]), as_json))
    finally:
        db.close()


@cli.command()
@click.option("-p", "--playbook", help="Only this playbook.")
@click.option("-l", "--limit", metavar="PATTERN",
              help="Only hosts matching this pattern (`web*`, `web-1,web-2`, `all:!web-1`).")
@click.option("--failing", is_flag=True, help="Only steps whose latest outcome is failed, "
                                              "error, quarantined or unreachable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step outcome.")
@click.option("--stale", is_flag=True, help="Only the configured jobs whose last run is older "
                                            "than twice their interval; exit 1 if there are any.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path), help=STORE_HELP)
@guard
def status(playbook: str | None, limit: str | None, failing: bool, as_json: bool, stale: bool,
           store: Path | None) -> None:
    """The latest outcome of every playbook, host and step; the daemon's jobs.

    Exits 0 when all is well, 1 when a step is failing, 4 when a host is unreachable.
    """
    from runner.report import records, views

    db = open_store(store)
    if stale:
        _stale(db.jobs_latest(), as_json)
    try:
        for channel in db.failing_channels():
            click.echo(f"warning: notification channel {views.shown(channel['channel'])} is "
                       f"failing: {channel['last_error']}", err=True)
        rows = db.latest()
        if not as_json and playbook is None and limit is None:
            daemon = views.daemon_status(db.monitors(), db.jobs_latest())
            if daemon:
                click.echo(daemon)
    finally:
        db.close()
    rows = _chosen(rows, playbook, limit)
    shown = [r for r in rows if records.failing(r)] if failing else rows
    if shown or as_json:
        click.echo(records.status(shown, as_json))
    elif not as_json:
        click.echo("nothing is failing" if failing and rows else _nothing(playbook))
    sys.exit(records.status_exit_code(rows))


def _chosen(rows: list[dict[str, Any]], playbook: str | None,
            limit: str | None) -> list[dict[str, Any]]:
    if playbook is not None:
        _known_playbook(playbook, {r["playbook"] for r in rows})
        rows = [r for r in rows if r["playbook"] == playbook]
    if limit is not None and rows:
        hosts = set(_matching(limit, [r["host"] for r in rows]))
        rows = [r for r in rows if r["host"] in hosts]
    return rows


def _known_playbook(name: str, recorded: set[str]) -> None:
    """A playbook that is neither recorded nor found is a mistake: say so, with a hint."""
    from runner import load

    if name in recorded:
        return
    available = set(load.available(load.search_dirs()))
    if name not in available:
        raise InputError.one("status", None, "--playbook", "", f"no playbook '{name}' is "
                             "recorded or found", did_you_mean(name, recorded | available))


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
    click.echo(views.stale(late, as_json))
    sys.exit(1 if late else 0)
