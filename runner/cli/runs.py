"""`urs run`, `urs check`, `urs graph`, `urs list`: playbooks loaded, planned and run."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli.app import cli, guard, inventory_options, store_path
from runner.connections import HOST_KEY_POLICIES
from runner.errors import InputError

if TYPE_CHECKING:
    from runner.pipeline import Loaded


def _load(playbooks: Sequence[str], inventories: Sequence[str], extra: Sequence[str],
          limit: str | None) -> Loaded:
    from runner.pipeline import prepare

    loaded = prepare(playbooks, inventories, extra, limit)
    for notice in loaded.notices:
        click.echo(notice, err=True)
    return loaded


def duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A duration option's seconds: 30s, 500ms, 5m, 1h or a plain number of seconds."""
    from runner.fields import parse_duration

    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"expected a duration like 30s, 5m or 1h, found {value!r}")
    return seconds


@cli.command()
@click.argument("playbooks", nargs=-1, required=True)
@inventory_options
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
@click.option("--timeout", callback=duration, default="300s", show_default=True,
              help="Each step's timeout where neither the step nor its playbook sets one.")
@click.option("--max-runtime", callback=duration, default="1h", show_default=True,
              help="The whole run's deadline: then running steps are stopped (interrupted).")
@click.option("-v", "--verbose", is_flag=True, help="Show the output of every step.")
@guard
def run(playbooks: tuple[str, ...], inventories: tuple[str, ...], extra: tuple[str, ...],
        limit: str | None, forks: int, check_mode: bool, tags: str, skip_tags: str,
        as_json: bool, store: Path | None, wait_s: float, known_hosts: Path | None,
        host_key_policy: str, timeout: float, max_runtime: float, verbose: bool) -> None:
    """Run playbooks: live output, a recap per host, every outcome recorded.

    PLAYBOOKS are paths or names (`urs list`); several run as one graph.
    """
    from runner import pipeline
    from runner.plan import check_tags
    from runner.report.console import ConsoleReporter
    from runner.report.jsonl import JsonReporter

    loaded = _load(playbooks, inventories, extra, limit)
    check_tags(loaded.plan, _names(tags), _names(skip_tags))
    reporter = JsonReporter() if as_json else ConsoleReporter(verbose=verbose)
    why_check = "--check" if check_mode else auto_recovery_off(loaded)
    options = pipeline.Options(
        run_id=uuid.uuid4().hex, forks=forks, check_mode=bool(why_check), tags=_names(tags),
        check_reason=why_check, skip_tags=_names(skip_tags), store=store_path(store),
        wait_s=wait_s, known_hosts=known_hosts,
        host_key_policy=host_key_policy, timeout=timeout, max_runtime=max_runtime,
        observers=(reporter,), warn=lambda text: click.echo(text, err=True),
    )
    signal.signal(signal.SIGTERM, _interrupt)
    result = pipeline.run(loaded, options)
    sys.exit(result.exit_code)


# the original system each built-in playbook belongs to: its auto-recovery switch applies
SYSTEMS = {"health-pm2": "pm2", "recover-pm2": "pm2", "health-workflows": "github",
           "recover-workflows": "github", "health-netlify": "netlify",
           "recover-netlify": "netlify"}
SWITCHES = ("AUTO_RECOVERY", "PM2_AUTO_RECOVERY", "GITHUB_AUTO_TRIGGER",
            "NETLIFY_AUTO_REGENERATE", "URS_AUTO_RECOVERY")


def auto_recovery_off(loaded: Loaded) -> str:
    """Why this run may only report ("auto-recovery is off (env AUTO_RECOVERY)"), or "": the
    configuration is read only when there is a urs.yml or a switch in the environment."""
    from runner import config

    cwd = Path.cwd()
    switched = any(name in os.environ for name in SWITCHES) or \
        any(name.startswith("URS_AUTO_RECOVERY_") for name in os.environ)
    if not switched and config.find(cwd, os.environ) is None:
        return ""
    settings = config.load(cwd, os.environ)
    for book in loaded.plan.books:
        system = SYSTEMS.get(book.name)
        if not settings.auto_recovery.on_for(system):
            switch = "auto_recovery.enabled" if not settings.auto_recovery.enabled \
                else f"auto_recovery.{system}"
            return f"auto-recovery is off ({settings.origin(switch)})"
    return ""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _names(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


@cli.command()
@click.argument("playbooks", nargs=-1, required=True)
@inventory_options
@guard
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
@guard
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


