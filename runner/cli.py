"""The `urs` command: parses options, wires the pipeline together, maps errors to exit codes.

cli -> load -> plan -> execute -> record -> report. Only this module and the reporter print.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runner import __version__
from runner.connections import HOST_KEY_POLICIES
from runner.errors import InputError, LockBusy

if TYPE_CHECKING:  # the stages are imported by the commands that need them
    from runner.inventory import Host, Inventory
    from runner.modules import Module
    from runner.plan import Plan
    from runner.record.store import OutcomeStore

F = TypeVar("F", bound=Callable[..., Any])
EXIT_CODES = """\b
Exit codes: 0 all passed; 1 a step failed; 2 invalid input or usage;
3 skipped, another run holds the lock; 4 a host was unreachable; 130 interrupted."""


def _guard(func: F) -> F:
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


def _inventory_options(func: F) -> F:
    func = click.option("-i", "--inventory", "inventories", multiple=True, metavar="INV",
                        help="Inventory file, folder or 'h1,h2,' list (repeatable). "
                             "Default: localhost.")(func)
    return click.option("-e", "--extra-vars", "extra", multiple=True, metavar="VARS",
                        help="key=value, @file.yml or JSON; wins over every other variable.")(func)


@dataclass(frozen=True)
class Loaded:
    plan: Plan
    inventory: Inventory
    targets: dict[str, tuple[Host, ...]]
    extra: dict[str, Any]
    modules: dict[str, Module]


def _load(playbooks: Sequence[str], inventories: Sequence[str], extra: Sequence[str],
          limit: str | None) -> Loaded:
    """load -> plan: every problem of the input reported before anything runs."""
    from runner import load, plan
    from runner.modules import registry

    modules = registry()
    book, inv, extra_vars = load.load_all(playbooks, inventories, extra,
                                          {k: m.fields for k, m in modules.items()})
    known = set(extra_vars) | {k for h in inv.hosts.values() for k in h.vars}
    the_plan = plan.build(book, known)
    targets, notices = plan.targets(the_plan, inv, limit)
    for notice in notices:
        click.echo(notice, err=True)
    return Loaded(the_plan, inv, targets, extra_vars, modules)


@cli.command()
@click.argument("playbooks", nargs=-1, required=True)
@_inventory_options
@click.option("-l", "--limit", metavar="PATTERN", help="Only hosts matching this pattern.")
@click.option("--forks", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Hosts run at once.")
@click.option("--check", "check_mode", is_flag=True,
              help="Run read-only checks for real; report what recoveries and run steps would do.")
@click.option("--tags", default="", metavar="T1,T2", help="Only steps with one of these tags.")
@click.option("--skip-tags", default="", metavar="T1,T2", help="Not steps with these tags.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one per event, on stdout.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path),
              help="The outcome store (default: $URS_STORE or the user's state directory).")
@click.option("--wait", "wait_s", default=0.0, type=click.FloatRange(0), metavar="SECONDS",
              help="Wait this long for an overlapping run to end (default: skip at once).")
@click.option("--known-hosts", type=click.Path(dir_okay=False, path_type=Path),
              help="known_hosts file for SSH host keys (default: the user's).")
@click.option("--host-key-policy", type=click.Choice(HOST_KEY_POLICIES),
              default="strict", show_default=True, help="What to do with unknown host keys.")
@click.option("-v", "--verbose", is_flag=True, help="Show the output of every step.")
@_guard
def run(playbooks: tuple[str, ...], inventories: tuple[str, ...], extra: tuple[str, ...],
        limit: str | None, forks: int, check_mode: bool, tags: str, skip_tags: str,
        as_json: bool, store: Path | None, wait_s: float, known_hosts: Path | None,
        host_key_policy: str, verbose: bool) -> None:
    """Run playbooks: live output, a recap per host, every outcome recorded.

    PLAYBOOKS are paths or names (`urs list`); several run as one graph.
    """
    from runner import pipeline

    loaded = _load(playbooks, inventories, extra, limit)
    options = pipeline.Options(
        forks=forks, check_mode=check_mode, tags=_names(tags), skip_tags=_names(skip_tags),
        as_json=as_json, store=store, wait_s=wait_s, known_hosts=known_hosts,
        host_key_policy=host_key_policy, verbose=verbose, run_id=uuid.uuid4().hex,
        lock_key=" ".join(playbooks) + " -i " + ",".join(inventories),
    )
    signal.signal(signal.SIGTERM, _interrupt)
    result = pipeline.run(loaded.plan, loaded.inventory, loaded.targets, loaded.extra,
                         loaded.modules, options)
    sys.exit(result.exit_code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _names(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


@cli.command()
@click.argument("playbooks", nargs=-1, required=True)
@_inventory_options
@_guard
def check(playbooks: tuple[str, ...], inventories: tuple[str, ...], extra: tuple[str, ...]) -> None:
    """Validate playbooks and inventory without running anything."""
    loaded = _load(playbooks, inventories, extra, None)
    hosts = {h.name for hs in loaded.targets.values() for h in hs}
    click.echo(f"ok: {', '.join(b.name for b in loaded.plan.books)}: {len(loaded.plan.nodes)} "
               f"steps, {len(hosts)} host{'s' if len(hosts) != 1 else ''}")


@cli.command()
@click.argument("playbook")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid"]), default="text",
              show_default=True)
@_guard
def graph(playbook: str, fmt: str) -> None:
    """Show a playbook's step graph (text, Graphviz dot or Mermaid)."""
    from runner import load, plan
    from runner.modules import registry
    from runner.report import views

    book = load.load([playbook], {k: m.fields for k, m in registry().items()})
    # variables may come from an inventory not given here: check template syntax only
    click.echo(views.GRAPH_FORMATS[fmt](plan.build(book, known_vars=None)))


@cli.command(name="list")
def list_playbooks() -> None:
    """List playbooks: the project's (./playbooks) and the built-in ones."""
    from runner import load
    from runner.modules import registry
    from runner.report import views

    fields = {k: m.fields for k, m in registry().items()}
    builtin = load.builtin_dir().resolve()
    found: dict[str, tuple[str, Any]] = {}
    for name, path in load.available(load.search_dirs()).items():
        try:
            book = load.load([str(path)], fields)
        except InputError:
            book = None
        found[name] = ("built-in" if path.resolve().parent == builtin else "project", book)
    click.echo(views.playbook_list(found))


def _open_store(store: Path | None) -> OutcomeStore:
    from runner.record.store import SQLiteStore, default_path

    return SQLiteStore(store or default_path())


@cli.command()
@click.argument("run_id", required=False)
@click.option("-p", "--playbook", help="Only runs of this playbook.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path))
@_guard
def history(run_id: str | None, playbook: str | None, limit: int, as_json: bool,
            store: Path | None) -> None:
    """Past runs, newest first; with RUN_ID (or a prefix), that run's steps."""
    from runner.report import views

    db = _open_store(store)
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
@_guard
def status(playbook: str | None, as_json: bool, store: Path | None) -> None:
    """The latest outcome of every playbook, host and step."""
    from runner.report import views

    click.echo(views.status(_open_store(store).latest(playbook), as_json))


@cli.command()
@click.option("-i", "--inventory", "inventories", multiple=True, metavar="INV",
              help="Inventory file, folder or 'h1,h2,' list (repeatable). Default: localhost.")
@click.option("--list", "as_list", is_flag=True, help="JSON, as `ansible-inventory --list`.")
@click.option("--graph", "as_graph", is_flag=True, help="The group tree.")
@click.option("--host", help="One host's variables, as JSON.")
@_guard
def inventory(inventories: tuple[str, ...], as_list: bool, as_graph: bool,
              host: str | None) -> None:
    """Show the inventory as resolved: groups, hosts and their merged variables."""
    import json

    from runner.inventory import listing
    from runner.inventory.sources import load_inventory

    inv = load_inventory(inventories)
    if host is not None:
        if host not in inv.hosts:
            raise InputError.one("--host", None, "", "a host of the inventory", repr(host))
        click.echo(json.dumps(dict(inv.hosts[host].vars), sort_keys=True, indent=4, default=str))
    elif as_graph:
        click.echo(listing.as_graph(inv))
    else:
        click.echo(listing.as_list(inv))


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
