"""The `urs` command line: `app` holds the group and `main`; each other module adds a family of
commands to it when imported here."""

from runner.cli import config, daemon, incidents, inventory, notify, records, runs
from runner.cli.app import cli, main

__all__ = ["cli", "config", "daemon", "incidents", "inventory", "main", "notify", "records", "runs"]
