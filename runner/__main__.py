"""`python -m runner` is the same as the `urs` command."""

from runner.cli import main

main()
