"""`urs daemon` (the configured jobs on their schedules, in the foreground) and `urs logs`
(recent outcomes with their output, followed live with -f)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import click

from runner.cli.app import cli, guard, open_store, show, store_option
from runner.cli.config import config_option, load_config
from runner.errors import InputError


@cli.command()
@config_option
@click.option("--once", is_flag=True,
              help="Run every enabled job once, then exit with the usual exit codes.")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Log lines as text or JSON lines (default: the configuration's log.format).")
@click.option("--grace", "grace_s", default=30.0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS", help="On SIGTERM, how long running steps may go on before "
                                      "they are stopped.")
@guard
def daemon(config_path: Path | None, once: bool, log_format: str | None,
           grace_s: float) -> None:
    """Run the configured jobs on their schedules, in the foreground (systemd, PM2, Docker).

    SIGTERM or SIGINT: stop cleanly; SIGHUP: reload the configuration. Runs in the folder of
    urs.yml, where the jobs' relative paths are read.
    """
    from runner.daemon import Daemon

    config = load_config(config_path)
    if "://" in config.store:
        raise InputError.one(str(config.origin("store")), None, "store", "an SQLite file path "
                             "(database URLs are not supported yet)", repr(config.store))
    os.chdir(config.root)
    path = config.path
    runner = Daemon(lambda: load_config(path), log_format=log_format, grace_s=grace_s)
    if once:
        sys.exit(runner.once())
    signal.signal(signal.SIGTERM, lambda *_: runner.stop("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: runner.stop("SIGINT"))
    signal.signal(signal.SIGHUP, lambda *_: runner.request_reload())
    sys.exit(runner.serve())


@cli.command()
@click.option("-n", "--lines", "count", default=20, show_default=True, type=click.IntRange(1),
              help="How many of the latest step outcomes to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep showing new outcomes as they are "
                                                   "recorded (Ctrl-C to stop).")
@store_option
@guard
def logs(count: int, follow: bool, store: Path | None) -> None:
    """Recent step outcomes with their output, newest last; -f follows them live."""
    from runner.report import views

    db = open_store(store)
    last = 0
    try:
        while True:
            rows = db.steps_after(last, count)
            if rows:
                show(views.log_lines(rows))
                last = rows[-1]["id"]
            if not follow:
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
    finally:
        db.close()
