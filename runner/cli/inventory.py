"""`urs inventory`: the inventory as resolved."""

from __future__ import annotations

import click

from runner.cli.app import cli, guard, show
from runner.errors import InputError


@cli.command()
@click.option("-i", "--inventory", "inventories", multiple=True, metavar="INV",
              help="Inventory file, folder or 'h1,h2,' list (repeatable). Default: localhost.")
@click.option("--list", "as_list", is_flag=True, help="JSON, as `ansible-inventory --list`.")
@click.option("--graph", "as_graph", is_flag=True, help="The group tree.")
@click.option("--host", help="One host's variables, as JSON.")
@guard
def inventory(inventories: tuple[str, ...], as_list: bool, as_graph: bool,
              host: str | None) -> None:
    """Show the inventory as resolved: groups, hosts and their merged variables."""
    import json

    from runner.inventory import listing
    from runner.inventory.sources import load_inventory

    inv = load_inventory(inventories)
    for warning in inv.warnings:
        click.echo(warning, err=True)
    if host is not None:
        if host not in inv.hosts:
            raise InputError.one("--host", None, "", "a host of the inventory", repr(host))
        click.echo(json.dumps(dict(inv.hosts[host].vars), sort_keys=True, indent=4, default=str))
    elif as_graph:
        show(listing.as_graph(inv))
    else:
        click.echo(listing.as_list(inv))


