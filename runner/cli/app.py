"""The `urs` command group: error handling shared by every command, exit codes, `main`.

cli -> load -> plan -> execute -> record -> report. Only the CLI and the reporter print; the
commands live beside this module, one file per family, and import the stages they need lazily.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from runner import __version__
from runner.errors import InputError, LockBusy, StoreError

if TYPE_CHECKING:
    from runner.config import Config
    from runner.record.store import OutcomeStore

F = TypeVar("F", bound=Callable[..., Any])
EXIT_CODES = """\b
Exit codes: 0 all passed; 1 a step failed or broke; 2 invalid input or usage;
3 skipped, another run holds the lock; 4 a host was unreachable; 5 the outcome store
cannot be used; 70 a bug in urs (crashed); 130 interrupted."""


def problem_lines(exc: InputError) -> list[str]:
    """Each problem of an input error as one line, secrets from the environment masked."""
    from runner.redact import Redactor, secret_values

    redactor = Redactor(secret_values(dict(os.environ)))
    return [redactor.text(str(problem)) for problem in exc.problems]


def guard(func: F) -> F:
    """Expected errors become one line each on stderr and their exit code (with --json, one
    JSON object on stdout); bugs keep their tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InputError, LockBusy, StoreError) as exc:
            fail(exc, as_json=bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


def fail(exc: InputError | LockBusy | StoreError, as_json: bool) -> NoReturn:
    """Say an expected error (as text on stderr, or as JSON) and exit with its code."""
    lines = problem_lines(exc) if isinstance(exc, InputError) else [str(exc)]
    if as_json:
        json_error(lines, exc.exit_code)
    else:
        for line in lines:  # they may quote names and values as written: shown escaped
            show(f"{'skipped' if isinstance(exc, LockBusy) else 'error'}: {line}", err=True)
    sys.exit(exc.exit_code)


def json_error(errors: list[str], exit_code: int) -> None:
    """With --json, an error that stops a command is one JSON object on stdout (docs/cli.md):
    `{"event": "error", "errors": [one line each], "exit_code": N}`."""
    import json

    click.echo(json.dumps({"event": "error", "errors": errors, "exit_code": exit_code}))


class JsonCommand(click.Command):
    """A command with --json. Given --json, a usage error that click finds before the command
    runs (an unknown option, a bad value, a missing argument) is a JSON error on stdout too,
    with the same exit code (2); without it, click's text, as for every command."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        as_json = "--json" in (args[:args.index("--")] if "--" in args else args)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if not as_json:
                raise
            self.json_error([exc.format_message()], exc.exit_code)
            sys.exit(exc.exit_code)

    def json_error(self, errors: list[str], exit_code: int) -> None:
        json_error(errors, exit_code)


def show(text: str, *, as_json: bool = False, err: bool = False) -> None:
    """Print what a command found. A text view holds names, hosts, reasons and output from
    playbooks, inventories and the store, so every control character in it is shown escaped
    (`\\x1b[2J`, `\\x0d`): none clears the screen, rewrites a line or retitles the window.
    Every text view prints through here. JSON is printed as it is: json.dumps escapes control
    characters itself, and a reader gets the exact string."""
    from runner.redact import escape_controls

    click.echo(text if as_json else escape_controls(text), err=err)


# each command and the module beside this one that defines it: a command's module (and what
# it imports) is loaded only when that command runs, or for `urs --help`
LAZY = {"run": "runs", "check": "runs", "graph": "runs", "list": "runs",
        "history": "records", "status": "records", "inventory": "inventory",
        "init": "config", "config": "config", "schedule": "config",
        "daemon": "daemon", "logs": "daemon", "incidents": "incidents", "ack": "incidents",
        "release": "incidents", "notify": "notify"}


class Commands(click.Group):
    """The commands, each imported on first use (LAZY). `urs --help` lists each command with
    its summary in full (its docstring's first paragraph), wrapped, never cut short with
    "..."."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*LAZY, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            importlib.import_module(f"runner.cli.{LAZY[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="urs")
def cli() -> None:
    """urs runs health checks and automatic recovery written as YAML playbooks.

    A playbook's steps form a graph; independent steps run in parallel, on this machine or
    over SSH across an Ansible-compatible inventory, and every outcome is recorded.
    """


# every command that reads or writes the outcome store takes it the same way (store_path)
store_option = click.option(
    "--store", type=click.Path(dir_okay=False, path_type=Path),
    help="The outcome store (default: $URS_STORE, urs.yml's store, or the user's state "
         "directory).")


def inventory_options(func: F) -> F:
    func = click.option("-i", "--inventory", "inventories", multiple=True, metavar="INV",
                        help="Inventory file, folder or 'h1,h2,' list (repeatable). "
                             "Default: localhost.")(func)
    return click.option("-e", "--extra-vars", "extra", multiple=True, metavar="VARS",
                        help="key=value, @file.yml or JSON; wins over every other variable.")(func)


def store_path(store: Path | None, settings: Config | None = None) -> Path:
    """--store, else $URS_STORE, else urs.yml's `store` (read only when there is one; `settings`
    when the command loaded it already), else the user's state directory."""
    from runner.record.store import default_path

    if store is not None:
        return store
    if os.environ.get("URS_STORE"):
        return default_path()
    if settings is None:
        from runner import config

        if config.find(Path.cwd(), os.environ) is None:
            return default_path()
        settings = config.load(Path.cwd(), os.environ)
    if settings.path is None:
        return default_path()
    if "://" in settings.store:
        raise InputError.one("store", None, "store", "an SQLite file path (database URLs are "
                             "not supported yet)", repr(settings.store))
    return Path(settings.store)


def open_store(store: Path | None) -> OutcomeStore:
    from runner.record.store import open_store as open_at

    return open_at(store_path(store))


CRASHED = 70  # EX_SOFTWARE: a bug in urs


def main() -> None:
    """Run the CLI, then leave without the interpreter's teardown of every imported module
    (networkx alone adds ~0.1 s of it): the store and connections are closed by then. A bug
    in urs shows its traceback and exits 70."""
    try:
        cli(prog_name="urs")
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code  # type: ignore[assignment]
        if not isinstance(code, int):  # sys.exit("message")
            click.echo(str(code), err=True)
            code = 1
    except Exception:  # noqa: BLE001 - the one place a bug becomes exit 70
        import traceback

        traceback.print_exc()
        click.echo("urs: internal error (a bug in urs, exit code 70); the run, if one started, "
                   "is recorded as crashed", err=True)
        code = CRASHED
    with contextlib.suppress(OSError):  # stdout may be a closed pipe (`| head`)
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)
