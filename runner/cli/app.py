"""The `urs` command group: error handling shared by every command, exit codes, `main`.

cli -> load -> plan -> execute -> record -> report. Only the CLI and the reporter print; the
commands live beside this module, one file per family, and import the stages they need lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runner import __version__
from runner.errors import InputError, LockBusy

if TYPE_CHECKING:
    from runner.record.store import OutcomeStore

F = TypeVar("F", bound=Callable[..., Any])
EXIT_CODES = """\b
Exit codes: 0 all passed; 1 a step failed; 2 invalid input or usage;
3 skipped, another run holds the lock; 4 a host was unreachable; 130 interrupted."""


def guard(func: F) -> F:
    """Expected errors become one line each on stderr and their exit code; bugs keep tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            from runner.redact import Redactor, secret_values

            redactor = Redactor(secret_values(dict(os.environ)))
            for problem in exc.problems:
                click.echo(redactor.text(f"error: {problem}"), err=True)
            sys.exit(exc.exit_code)
        except LockBusy as exc:
            click.echo(f"skipped: {exc}", err=True)
            sys.exit(LockBusy.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="urs")
def cli() -> None:
    """urs runs health checks and automatic recovery written as YAML playbooks.

    A playbook's steps form a graph; independent steps run in parallel, on this machine or
    over SSH across an Ansible-compatible inventory, and every outcome is recorded.
    """


def inventory_options(func: F) -> F:
    func = click.option("-i", "--inventory", "inventories", multiple=True, metavar="INV",
                        help="Inventory file, folder or 'h1,h2,' list (repeatable). "
                             "Default: localhost.")(func)
    return click.option("-e", "--extra-vars", "extra", multiple=True, metavar="VARS",
                        help="key=value, @file.yml or JSON; wins over every other variable.")(func)


def open_store(store: Path | None) -> OutcomeStore:
    from runner.record.store import SQLiteStore, default_path

    return SQLiteStore(store or default_path())


def main() -> None:
    """Run the CLI, then leave without the interpreter's teardown of every imported module
    (networkx alone adds ~0.1 s of it): the store and connections are closed by then."""
    try:
        cli(prog_name="urs")
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
        if not isinstance(code, int):  # sys.exit("message")
            click.echo(str(code), err=True)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
