"""`urs incidents`, `urs ack ID`, `urs release PLAYBOOK [STEP] [-l HOST]`: what escalation
keeps in the store (docs/alerts.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from runner.cli.app import JsonCommand, cli, guard, open_store, show, store_option
from runner.errors import InputError


@cli.command(cls=JsonCommand)
@click.option("--all", "everything", is_flag=True, help="Resolved incidents too.")
@click.option("-n", "--count", default=50, show_default=True, type=click.IntRange(1),
              help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per incident.")
@store_option
@guard
def incidents(everything: bool, count: int, as_json: bool, store: Path | None) -> None:
    """Open incidents (and with --all, resolved ones): since when, how many failures, the last
    reason, and whom they were announced to."""
    from runner.report import views

    db = open_store(store)
    try:
        rows = db.incidents(everything, count)
        failing = db.failing_channels()
    finally:
        db.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    show(views.incidents(rows, failing, everything))


@cli.command()
@click.argument("incident", type=int)
@store_option
@guard
def ack(incident: int, store: Path | None) -> None:
    """Acknowledge an open incident: no more reminders for it (it still resolves, and still
    escalates by failures)."""
    db = open_store(store)
    try:
        done = db.ack(incident)
    finally:
        db.close()
    if not done:
        raise InputError.one("ack", None, "ID", "an open incident not acknowledged yet "
                             "(see `urs incidents`)", str(incident))
    click.echo(f"incident {incident} acknowledged: no more reminders")


@cli.command()
@click.argument("playbook")
@click.argument("step", required=False)
@click.option("-l", "--limit", metavar="HOSTS", help="Only these hosts (comma-separated).")
@store_option
@guard
def release(playbook: str, step: str | None, limit: str | None, store: Path | None) -> None:
    """Lift the flap guard's quarantine of a playbook's steps (or one STEP), on every host or
    the hosts given: the next runs recover again."""
    hosts = [h.strip() for h in limit.split(",") if h.strip()] if limit else None
    db = open_store(store)
    try:
        lifted = db.release(playbook, step, hosts)
    finally:
        db.close()
    what = f"{playbook}/{step}" if step else playbook
    if not lifted:
        click.echo(f"no quarantine of {what} to release", err=True)
        sys.exit(1)
    click.echo(f"released {lifted} quarantine{'s' if lifted != 1 else ''} of {what}")
