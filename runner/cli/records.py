"""`urs history` and `urs status`: what the outcome store remembers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from runner.cli.app import cli, guard, open_store
from runner.errors import InputError


@cli.command()
@click.argument("run_id", required=False)
@click.option("-p", "--playbook", help="Only runs of this playbook.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path))
@guard
def history(run_id: str | None, playbook: str | None, limit: int, as_json: bool,
            store: Path | None) -> None:
    """Past runs, newest first; with RUN_ID (or a prefix), that run's steps."""
    from runner.report import views

    db = open_store(store)
    if run_id is None:
        click.echo(views.history(db.runs(limit, playbook), as_json))
        return
    matches = [r for r in db.runs(100_000, playbook) if r["id"].startswith(run_id)]
    if len(matches) != 1:
        raise InputError.one("history", None, "RUN_ID", "one recorded run",
                             f"{len(matches)} runs starting with '{run_id}'")
    click.echo(views.run_detail(matches[0], db.run_steps(matches[0]["id"]), as_json))


@cli.command()
@click.option("-p", "--playbook", help="Only this playbook.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step outcome.")
@click.option("--stale", is_flag=True, help="Only the configured jobs whose last run is older "
                                            "than twice their interval; exit 1 if there are any.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path))
@guard
def status(playbook: str | None, as_json: bool, stale: bool, store: Path | None) -> None:
    """The latest outcome of every playbook, host and step; the daemon's jobs and heartbeat."""
    from runner.report import views

    db = open_store(store)
    if stale:
        _stale(db.jobs_latest(), as_json)
    try:
        for channel in db.failing_channels():
            click.echo(f"warning: notification channel {views.shown(channel['channel'])} is "
                       f"failing: {channel['last_error']}", err=True)
        if not as_json and playbook is None:
            daemon = views.daemon_status(db.monitors(), db.jobs_latest())
            if daemon:
                click.echo(daemon)
        click.echo(views.status(db.latest(playbook), as_json))
    finally:
        db.close()




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
