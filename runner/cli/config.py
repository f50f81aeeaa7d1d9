"""`urs init`, `urs config`, `urs schedule`: the configuration file, what is in effect, and the
configured jobs as crontab lines, systemd units or a PM2 entry."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runner.cli.app import JsonCommand, cli, guard
from runner.errors import InputError

if TYPE_CHECKING:
    from runner.config import Config

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("cron", "systemd", "systemd-daemon", "pm2")


def config_option(func: F) -> F:
    """--config FILE, for every command that reads urs.yml."""
    return click.option("--config", "config_path", metavar="FILE",
                        type=click.Path(dir_okay=False, path_type=Path),
                        help="The configuration file (default: $URS_CONFIG, else urs.yml here "
                             "or in the nearest parent folder).")(func)


def load_config(config_path: Path | None, overrides: dict[str, object] | None = None) -> Config:
    from runner import config

    return config.load(Path.cwd(), os.environ, overrides, config_path)


@cli.command()
@click.option("--from", "source", metavar="OLD.json", type=click.Path(path_type=Path),
              help="Convert the original system's ultimate-redundancy-config.json (and its "
                   "environment variables that are set).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("urs.yml"), show_default=True, help="Where to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@guard
def init(source: Path | None, output: Path, force: bool) -> None:
    """Write urs.yml with every setting, its default and a comment."""
    from runner import config
    from runner.config import migrate, template

    if output.exists() and not force:
        raise InputError.one(str(output), None, "", "no file there (--force overwrites it)",
                             "an existing file")
    migration = migrate.convert(source, os.environ) if source else migrate.Migration()
    output.write_text(template.render(migration.doc, migration.notes), encoding="utf-8")
    config.load(Path.cwd(), {}, path=output)  # what was written reads back
    click.echo(f"wrote {output}" + (f" from {source}" if source else ""))
    for item in migration.dropped:
        click.echo(f"not carried over: {item}")


@cli.command(name="config", cls=JsonCommand)
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@guard
def show_config(config_path: Path | None, as_json: bool) -> None:
    """Show the effective configuration and where each value came from.

    Origins: default, FILE:LINE, env VARIABLE, command line.
    """
    from runner import config
    from runner.config import show

    effective = load_config(config_path)
    notices = [*effective.notices, *config.missing_playbooks(effective)]
    if effective.path is None:
        notices.insert(0, f"no urs.yml in {Path.cwd()} or its parents: defaults and the "
                          "environment only (urs init writes one)")
    if as_json:
        click.echo(show.as_json(effective, notices))
        return
    click.echo(show.as_text(effective))
    for notice in notices:
        click.echo(f"notice: {notice}", err=True)


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="cron", show_default=True,
              help="crontab lines, a systemd service and timer per job, one systemd service "
                   "running `urs daemon`, or a PM2 ecosystem file running `urs daemon`.")
@click.option("--install", is_flag=True,
              help="Write the lines into your crontab (cron only), keeping every other line.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Write the files into DIR instead of printing them.")
@guard
def schedule(config_path: Path | None, fmt: str, install: bool, output: Path | None) -> None:
    """Crontab lines, systemd units or a PM2 entry for the configured jobs."""
    from runner import config
    from runner.config import crontab
    from runner.config import schedule as make

    effective = load_config(config_path)
    command, env = make.urs_command(), os.environ
    if install and fmt != "cron":
        raise InputError.one("--install", None, "", "--format cron (systemd and PM2 files "
                             "are installed with --output DIR)", f"--format {fmt}")
    files, notes = _files(fmt, effective, command, env)
    notes += config.missing_playbooks(effective)
    if install:
        key = str(effective.path or effective.root)
        changed = crontab.install(key, make.cron_block(effective, command, env))
        click.echo(("installed" if changed else "already installed") + ": "
                   f"{len(effective.jobs)} jobs of {key} in your crontab")
    else:
        _deliver(files, output)
    for note in notes:
        click.echo(f"notice: {note}", err=True)


def _deliver(files: dict[str, str], output: Path | None) -> None:
    """Write the files into `output`, or print them (named, when there are several)."""
    if output is None:
        click.echo("\n".join(f"# {name}\n{text}" if len(files) > 1 else text
                             for name, text in files.items()).rstrip("\n"))
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output / name}")


def _files(fmt: str, config: Config, command: list[str],
           env: os._Environ[str]) -> tuple[dict[str, str], list[str]]:
    from runner.config import crontab
    from runner.config import schedule as make

    if fmt == "cron":
        key = str(config.path or config.root)
        lines = crontab.block(key, make.cron_block(config, command, env))
        return {"urs.crontab": "\n".join(lines) + "\n"}, []
    if fmt == "systemd":
        return make.systemd_timers(config, command, env)
    if fmt == "systemd-daemon":
        return {"urs.service": make.systemd_daemon(config, command, env)}, []
    return {"ecosystem.urs.config.js": make.pm2_ecosystem(config, command, env)}, []
