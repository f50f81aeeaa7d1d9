"""`urs run`, `urs check`, `urs graph`, `urs list`: playbooks loaded, planned and run."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli.app import (
    CRASHED,
    JsonCommand,
    cli,
    guard,
    inventory_options,
    problem_lines,
    show,
    store_option,
    store_path,
)
from runner.connections import HOST_KEY_POLICIES
from runner.errors import InputError, LockBusy, StoreError

if TYPE_CHECKING:
    from runner.config import Config
    from runner.notify import Policy
    from runner.pipeline import Loaded
    from runner.report.jsonl import JsonReporter


def _load(playbooks: Sequence[str], inventories: Sequence[str], extra: Sequence[str],
          limit: str | None, say: Callable[[str], None] | None = None) -> Loaded:
    from runner.pipeline import prepare

    loaded = prepare(playbooks, inventories, extra, limit)
    for notice in loaded.notices:
        (say or (lambda text: click.echo(text, err=True)))(notice)
    return loaded


def duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A duration option's seconds: 30s, 500ms, 5m, 1h or a plain number of seconds."""
    from runner.fields import parse_duration

    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"expected a duration like 30s, 5m or 1h, found {value!r}")
    return seconds


class RunCommand(JsonCommand):
    """`urs run`: its JSON error line has a run id and a schema version, as every line of it."""

    def json_error(self, errors: list[str], exit_code: int) -> None:
        from runner.report.jsonl import JsonReporter

        JsonReporter(uuid.uuid4().hex).error(errors, exit_code)


@contextlib.contextmanager
def _as_json_lines(out: JsonReporter | None) -> Iterator[None]:
    """With --json, an error, a skipped run or a bug in urs (its traceback included) is a
    JSON line on stdout, with its exit code."""
    if out is None:
        yield
        return
    try:
        yield
    except InputError as exc:
        out.error(problem_lines(exc), exc.exit_code)
        sys.exit(exc.exit_code)
    except LockBusy as exc:
        out.skipped(str(exc), LockBusy.exit_code)
        sys.exit(LockBusy.exit_code)
    except StoreError as exc:
        out.error([str(exc)], StoreError.exit_code)
        sys.exit(StoreError.exit_code)
    except Exception as exc:  # noqa: BLE001 - a bug in urs: its traceback, as JSON too
        import traceback

        out.write({"event": "error", "errors": [f"internal error (a bug in urs, exit code 70): "
                                                f"{type(exc).__name__}: {exc}"],
                   "exit_code": CRASHED, "traceback": traceback.format_exc()})
        sys.exit(CRASHED)


@cli.command(cls=RunCommand)
@click.argument("playbooks", nargs=-1, required=True)
@inventory_options
@click.option("-l", "--limit", metavar="PATTERN", help="Only hosts matching this pattern.")
@click.option("-f", "--forks", default=20, show_default=True, type=click.IntRange(1, 1000),
              metavar="N", help="Hosts run at once (1 to 1000).")
@click.option("-C", "--check", "check_mode", is_flag=True,
              help="Run read-only checks for real; report what recoveries and run steps would do.")
@click.option("-t", "--tags", default="", metavar="T1,T2",
              help="Only steps with one of these tags.")
@click.option("--skip-tags", default="", metavar="T1,T2", help="Not steps with these tags.")
@click.option("--list-hosts", is_flag=True, help="Show the hosts each playbook would run on; "
                                                 "run nothing.")
@click.option("--list-steps", is_flag=True, help="Show the steps that would run, in order, "
                                                 "with their tags; run nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines on stdout, one per event, error and notice (docs/cli.md).")
@store_option
@click.option("--wait", "wait_s", default=0.0, type=click.FloatRange(0), metavar="SECONDS",
              help="Wait this long for an overlapping run to end (default: skip at once).")
@click.option("--known-hosts", type=click.Path(dir_okay=False, path_type=Path),
              help="known_hosts file for SSH host keys (default: urs.yml's ssh.known_hosts, "
                   "else the user's).")
@click.option("--host-key-policy", type=click.Choice(HOST_KEY_POLICIES),
              help="What to do with unknown host keys (default: urs.yml's "
                   "ssh.host_key_policy, else strict).")
@click.option("--timeout", callback=duration, default="300s", show_default=True,
              metavar="DURATION",
              help="Each step's timeout where neither the step nor its playbook sets one.")
@click.option("--max-runtime", callback=duration, default="1h", show_default=True,
              metavar="DURATION",
              help="The whole run's deadline: then running steps are stopped (interrupted).")
@click.option("-v", "--verbose", is_flag=True, help="Show the output of every step.")
@click.option("-q", "--quiet", is_flag=True,
              help="Only failures and the final line (for cron mail).")
@guard
def run(playbooks: tuple[str, ...], inventories: tuple[str, ...], extra: tuple[str, ...],
        limit: str | None, forks: int, check_mode: bool, tags: str, skip_tags: str,
        list_hosts: bool, list_steps: bool, as_json: bool, store: Path | None, wait_s: float,
        known_hosts: Path | None, host_key_policy: str | None, timeout: float,
        max_runtime: float,
        verbose: bool, quiet: bool) -> None:
    """Run playbooks: live output, a recap per host, every outcome recorded.

    PLAYBOOKS are paths or names (`urs list`); several run as one graph.
    """
    from runner import pipeline
    from runner.plan import check_tags
    from runner.report.console import ConsoleReporter

    run_id = uuid.uuid4().hex
    json_out = _json_reporter(run_id) if as_json else None
    say = json_out.notice if json_out else lambda text: click.echo(text, err=True)
    with _as_json_lines(json_out):
        loaded = _load(playbooks, inventories, extra, limit, say)
        check_tags(loaded.plan, _names(tags), _names(skip_tags))
        if list_hosts or list_steps:
            _listing(loaded, list_hosts, list_steps, _names(tags), _names(skip_tags))
            return
        reporter = json_out or ConsoleReporter(verbose=verbose, quiet=quiet)
        settings = configuration()
        why_check = "--check" if check_mode else auto_recovery_off(settings, loaded)
        known_hosts, host_key_policy = _host_keys(settings, known_hosts, host_key_policy)
        options = pipeline.Options(
            run_id=run_id, forks=forks, check_mode=bool(why_check), tags=_names(tags),
            check_reason=why_check, skip_tags=_names(skip_tags), store=store_path(store, settings),
            wait_s=wait_s, known_hosts=known_hosts, host_key_policy=host_key_policy,
            timeout=timeout, max_runtime=max_runtime,
            observers=(reporter,), warn=say, policy=_policy(settings),
            notifications=settings.sections.get("notifications", {}) if settings else {},
        )
        signal.signal(signal.SIGTERM, _interrupt)
        result = pipeline.run(loaded, options)
    sys.exit(result.exit_code)


def _host_keys(settings: Config | None, known_hosts: Path | None,
               policy: str | None) -> tuple[Path | None, str]:
    """The command line's, else urs.yml's `ssh` settings, else ~/.ssh/known_hosts, strict."""
    if settings is None:
        return known_hosts, policy or "strict"
    return known_hosts or settings.ssh.known_hosts, policy or settings.ssh.host_key_policy


def _policy(settings: Config | None) -> Policy:
    from runner.notify import Policy

    if settings is None:
        return Policy()
    from runner.notify.settings import policy_for

    return policy_for(settings)


def _json_reporter(run_id: str) -> JsonReporter:
    from runner.report.jsonl import JsonReporter

    return JsonReporter(run_id)


def _listing(loaded: Loaded, hosts: bool, steps: bool, tags: frozenset[str],
             skip_tags: frozenset[str]) -> None:
    from runner.report import views

    if hosts:
        show(views.host_listing(loaded.targets))
    if steps:
        show(views.step_listing(loaded.plan, tags, skip_tags))


# the original system each built-in playbook belongs to: its auto-recovery switch applies
SYSTEMS = {"health-pm2": "pm2", "recover-pm2": "pm2", "health-workflows": "github",
           "recover-workflows": "github", "health-netlify": "netlify",
           "recover-netlify": "netlify"}
# original variables that change what a run does (intervals and log levels do not)
RUN_VARIABLES = ("AUTO_RECOVERY", "PM2_AUTO_RECOVERY", "GITHUB_AUTO_TRIGGER",
                 "NETLIFY_AUTO_REGENERATE", "GITHUB_MAX_FAILURES", "NETLIFY_MAX_FAILURES")


def configuration() -> Config | None:
    """urs.yml with the environment, read only when there is a file or a variable that
    changes a run: a plain run on a fresh machine pays nothing for it."""
    from runner import config

    cwd = Path.cwd()
    named = any(name in os.environ for name in RUN_VARIABLES) or any(
        name.startswith(("URS_AUTO_RECOVERY", "URS_NOTIFICATIONS_", "URS_ESCALATION_",
                         "URS_SSH_"))
        for name in os.environ)
    if not named and config.find(cwd, os.environ) is None:
        return None
    return config.load(cwd, os.environ)


def auto_recovery_off(settings: Config | None, loaded: Loaded) -> str:
    """Why this run may only report ("auto-recovery is off (env AUTO_RECOVERY)"), or ""."""
    if settings is None:
        return ""
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
    from runner.report.text import one_line, plural

    loaded = _load(playbooks, inventories, extra, None)
    hosts = {h.name for hs in loaded.targets.values() for h in hs}
    show(f"ok: {one_line(', '.join(b.name for b in loaded.plan.books))}: "
         f"{plural(len(loaded.plan.nodes), 'step')}, {plural(len(hosts), 'host')}")


@cli.command()
@click.argument("playbook")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid"]), default="text",
              show_default=True, help="Text, Graphviz dot or a Mermaid flowchart.")
@guard
def graph(playbook: str, fmt: str) -> None:
    """Show a playbook's step graph (text, Graphviz dot or Mermaid)."""
    from runner import load, plan
    from runner.modules import FieldsOf, registry
    from runner.report import views

    book = load.load([playbook], FieldsOf(registry()))
    # variables may come from an inventory not given here: check template syntax only
    show(views.GRAPH_FORMATS[fmt](plan.build(book, known_vars=None)))


@cli.command(name="list")
def list_playbooks() -> None:
    """List playbooks: the project's (./playbooks) and the built-in ones."""
    from runner import load
    from runner.modules import FieldsOf, registry
    from runner.report import views

    fields = FieldsOf(registry())
    builtin = load.builtin_dir().resolve()
    found: dict[str, tuple[str, Any]] = {}
    for name, path in load.available(load.search_dirs()).items():
        try:
            book = load.load([str(path)], fields)
        except InputError:
            book = None
        found[name] = ("built-in" if path.resolve().parent == builtin else "project", book)
    show(views.playbook_list(found))


