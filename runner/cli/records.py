"""`urs history` and `urs status`: what the outcome store remembers."""

from __future__ import annotations

from pathlib import Path

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
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path))
@guard
def status(playbook: str | None, as_json: bool, store: Path | None) -> None:
    """The latest outcome of every playbook, host and step; the daemon's jobs and heartbeat."""
    from runner.report import views

    db = open_store(store)
    try:
        if not as_json and playbook is None:
            daemon = views.daemon_status(db.monitors(), db.jobs_latest())
            if daemon:
                click.echo(daemon)
        click.echo(views.status(db.latest(playbook), as_json))
    finally:
        db.close()


