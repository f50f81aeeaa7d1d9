"""The `urs` command line: `app` holds the group and `main`; each other module adds a family of
commands to it when imported here."""

from runner.cli import config, inventory, records, runs
from runner.cli.app import cli, main

__all__ = ["cli", "config", "inventory", "main", "records", "runs"]
