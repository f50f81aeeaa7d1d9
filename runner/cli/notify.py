"""`urs notify test [CHANNEL]`: a test message through each configured channel (docs/alerts.md)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli.app import cli, guard
from runner.cli.config import config_option, load_config
from runner.errors import InputError

if TYPE_CHECKING:
    from runner.notify.messages import Message

TEST = "test"


@cli.group()
def notify() -> None:
    """Notification channels (notifications in urs.yml)."""


@notify.command(name="test")
@click.argument("channel", required=False)
@config_option
@guard
def test_channels(channel: str | None, config_path: Path | None) -> None:
    """Send a test message through each configured channel (notifications.channels and
    escalate_to), or through CHANNEL: one of them, its number in that list, or any other
    Apprise URL or command:<shell>. Exit code 1 when a channel failed."""
    from runner.notify.channels import display, url_secrets
    from runner.notify.send import bounded_send, delivery_timeout, masked
    from runner.notify.settings import policy_for
    from runner.redact import Redactor, secret_values

    effective = load_config(config_path)
    settings = effective.sections.get("notifications", {})
    where = str(effective.path.name if effective.path else "urs.yml")
    timeout = delivery_timeout(settings)
    environment = secret_values(dict(os.environ))
    failed = 0
    for each in _chosen(channel, list(policy_for(effective).every_channel), where):
        redactor = Redactor([*environment, *url_secrets(each)])
        error = bounded_send(each, masked(test_message(settings), redactor), timeout)
        failed += bool(error)
        click.echo(f"{'failed' if error else 'ok':<7}{display(each)}"
                   + (f": {redactor.text(error)}" if error else ": delivered"))
    if failed:
        sys.exit(1)


def _chosen(channel: str | None, configured: list[str], where: str) -> list[str]:
    """The channels to test: every configured one, or the one named."""
    if channel is None:
        if not configured:
            raise InputError.one(where, None, "notifications.channels",
                                 "at least one channel to test (docs/alerts.md)", "none",
                                 "or name one: urs notify test json://HOST/PATH")
        return configured
    if not channel.isdigit():
        return [channel]
    if not 1 <= int(channel) <= len(configured):
        raise InputError.one(where, None, "notifications.channels",
                             f"a channel's number, 1 to {len(configured)}", channel)
    return [configured[int(channel) - 1]]


def test_message(settings: Mapping[str, Any]) -> Message:
    """A made-up incident, rendered through the configured templates."""
    from runner.notify.messages import compose

    now = time.time()
    incident = {"event": TEST, "incident": 0, "playbook": "urs", "host": os.uname().nodename,
                "step": "notify-test", "status": "ok",
                "reason": "a test message from `urs notify test`; nothing is wrong",
                "output": "", "run_id": "", "failures": 0, "opened_at": now,
                "resolved_at": None}
    return compose(TEST, "", [incident], settings, now)
