"""The options of `urs run` as in ansible-playbook (-C, -t, -f, --list-hosts, --list-steps),
-q for cron mail, and help text for every option of every command."""

from __future__ import annotations

from pathlib import Path

import click

from tests.helpers import urs, write

BOOK = """
hosts: web
steps:
  - {name: disk, run: "echo disk", tags: [disk]}
  - {name: deploy, needs: disk, run: "echo deploy > /dev/null", tags: [deploy]}
  - {name: probe, run: "exit 1", tags: [disk]}
"""
INVENTORY = "[web]\nweb-[1:2] ansible_connection=local\n[db]\ndb-1 ansible_connection=local\n"


def test_list_hosts_and_list_steps_run_nothing(tmp_path: Path, store: Path) -> None:
    book, inv = write(tmp_path, BOOK), write(tmp_path, INVENTORY, "hosts.ini")
    hosts = urs("run", str(book), "-i", str(inv), "--list-hosts", "-l", "web-2,db-1")
    assert (hosts.returncode, hosts.stdout) == (0, "playbook book: 1 host\n  web-2\n")
    steps = urs("run", str(book), "-i", str(inv), "--list-steps", "-t", "disk")
    assert steps.stdout == "book: 2 steps\n  disk  [disk]\n  probe  [disk]\n"
    assert not store.exists()  # nothing ran, nothing was recorded


def test_short_flags_mean_what_ansible_playbook_means(tmp_path: Path, store: Path) -> None:
    book, inv = write(tmp_path, BOOK), write(tmp_path, INVENTORY, "hosts.ini")
    out = urs("run", str(book), "-i", str(inv), "-C", "-t", "disk", "-f", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[check mode: nothing is changed]" in out.stdout.splitlines()[0]
    assert "check mode: would run echo disk" in out.stdout
    assert "excluded by tags" in out.stdout
    # one host at a time: web-1's steps all end before web-2's start
    hosts = [line.split()[1] for line in out.stdout.splitlines()[1:7]]
    assert hosts == ["web-1"] * 3 + ["web-2"] * 3, out.stdout
    assert "'-f' / '--forks'" in urs("run", str(book), "-f", "0").stderr


def test_quiet_prints_only_failures_and_the_final_line(tmp_path: Path, store: Path) -> None:
    book, inv = write(tmp_path, BOOK), write(tmp_path, INVENTORY, "hosts.ini")
    out = urs("run", str(book), "-i", str(inv), "-q")
    lines = out.stdout.splitlines()
    assert out.returncode == 1
    assert sorted(line.split()[:3] for line in lines[:-1]) == [
        ["failed", "web-1", "probe"], ["failed", "web-2", "probe"]]
    assert lines[-1].startswith("run ") and " failed in " in lines[-1]


def test_every_option_of_every_command_has_help_and_summaries_are_whole() -> None:
    from runner.cli import cli

    ctx = click.Context(cli)
    missing = [(name, p.opts) for name in cli.list_commands(ctx)
               for p in cli.get_command(ctx, name).params  # type: ignore[union-attr]
               if isinstance(p, click.Option) and not p.help]
    assert not missing
    top = urs("--help").stdout
    assert "..." not in top.split("Commands:")[1]
    assert "the daemon's\n             jobs." in top or "the daemon's jobs." in top
