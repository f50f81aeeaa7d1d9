"""The `urs` command line: `app` holds the group and `main`; each other module adds a family of
commands to it when imported, which happens when one of its commands is used (app.LAZY)."""

from runner.cli.app import cli, main

__all__ = ["cli", "main"]
