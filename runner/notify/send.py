"""The sender: delivers the outbox (`store.pending`) off the steps' path, records every attempt.

Deliveries of one event from one run to one channel become one message, so three incidents
opened by one run are one message per channel. Channels are sent to at once, each in its own
thread, and each message within `notifications.timeout`; the whole pass ends by the caller's
deadline, leaving what it did not reach for the next pass. A failed attempt is retried later
(30 s, doubling, at most 1 h); a channel that is down never raises here.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.fields import parse_duration
from runner.notify import Pending, Policy
from runner.notify.channels import display, send, url_secrets
from runner.notify.messages import Message, compose
from runner.redact import Redactor, secret_values

if TYPE_CHECKING:
    from runner.record.store import OutcomeStore

TIMEOUT_S = 10.0
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 3600.0


@dataclass(frozen=True)
class Attempt:
    """One message sent (or not) to one channel: the event, how many incidents it carried."""

    channel: str  # as shown to people: without the secrets in its URL
    event: str
    incidents: int
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class Group:
    """Deliveries that go out as one message."""

    channel: str
    event: str
    run_id: str
    deliveries: tuple[Pending, ...]

    @property
    def ids(self) -> list[int]:
        return [d.id for d in self.deliveries]


CLAIM_MARGIN_S = 60.0


def delivery_timeout(settings: Mapping[str, Any]) -> float:
    """Seconds one delivery may take: notifications.timeout, else TIMEOUT_S."""
    return parse_duration(settings.get("timeout")) or TIMEOUT_S


def deliver(store: OutcomeStore, settings: Mapping[str, Any], deadline: float,
            config: str | None = None) -> list[Attempt]:
    """Queue the reminders and escalations that are due, then deliver what is pending (what
    the configuration `config` queued; None: everything), by deadline (time.monotonic());
    each attempt is recorded in the store as it ends."""
    store.due_notices(time.time())
    # claimed until well after this pass ends: a process delivering meanwhile skips them
    claim = max(deadline - time.monotonic(), 0.0) + CLAIM_MARGIN_S
    groups = group(store.pending(time.time(), claim_s=claim, config=config))
    if not groups:
        return []
    timeout = delivery_timeout(settings)
    redactor = Redactor(secret_values(dict(os.environ)))
    results: queue.Queue[tuple[Group, str] | None] = queue.Queue()
    channels = _by_channel(groups)
    for channel in channels:
        redactor.add(url_secrets(channel))
    for channel, mine in channels.items():
        threading.Thread(target=_channel, args=(mine, settings, timeout, deadline, redactor,
                                                results), daemon=True,
                         name=f"urs-notify-{display(channel)[:40]}").start()
    return _record(store, results, len(channels), deadline)


def drop_removed(store: OutcomeStore, policy: Policy) -> list[str]:
    """Drop what the policy's configuration queued for channels it no longer has (they were
    removed from it): never sent, kept with the reason. What to tell the operator."""
    if not policy.config:
        return []  # no configuration: nothing is its own
    reason = (f"dropped: the channel is no longer in notifications.channels or escalate_to of "
              f"{policy.config}")
    dropped = store.drop_deliveries(policy.config, policy.every_channel, reason)
    return [f"{count} undelivered notification{'s' if count != 1 else ''} to "
            f"{display(channel)} {reason}" for channel, count in sorted(dropped.items())]


def group(pending: Sequence[Pending]) -> list[Group]:
    """One group per (channel, event, run), in the order of their first delivery."""
    found: dict[tuple[str, str, str], list[Pending]] = {}
    for delivery in pending:
        found.setdefault((delivery.channel, delivery.event, delivery.run_id), []).append(delivery)
    return [Group(*key, tuple(items)) for key, items in found.items()]


def _by_channel(groups: Sequence[Group]) -> dict[str, list[Group]]:
    channels: dict[str, list[Group]] = {}
    for each in groups:
        channels.setdefault(each.channel, []).append(each)
    return channels


def _channel(groups: Sequence[Group], settings: Mapping[str, Any], timeout: float,
             deadline: float, redactor: Redactor,
             results: queue.Queue[tuple[Group, str] | None]) -> None:
    """Send one channel's messages in order; stop at the deadline or when the channel hangs."""
    try:
        for each in groups:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                message = masked(compose(each.event, each.run_id,
                                         [d.payload for d in each.deliveries], settings), redactor)
            except Exception as exc:  # noqa: BLE001 - a bug here is a failed attempt, retried
                results.put((each, redactor.text(f"could not compose the message: {exc!r}")))
                continue
            error = bounded_send(each.channel, message, min(timeout, left))
            results.put((each, redactor.text(error)))
            if error.startswith("timed out"):
                return  # a channel that hangs gets no more of this pass's time
    finally:
        results.put(None)


def bounded_send(channel: str, message: Message, timeout: float) -> str:
    """send, given up (not waited for) a little after its timeout, whatever the channel does."""
    outcome: list[str] = []

    def run() -> None:
        try:
            outcome.append(send(channel, message, timeout))
        except Exception as exc:  # noqa: BLE001 - a broken channel is a failed attempt
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    return outcome[0] if outcome else f"timed out after {timeout:g}s"


def masked(message: Message, redactor: Redactor) -> Message:
    """The message with every secret value the sender knows of masked."""
    return Message(message.event, message.run_id,
                   tuple(redactor.value(dict(i)) for i in message.incidents),
                   redactor.text(message.title), redactor.text(message.body))


def _record(store: OutcomeStore,
            results: queue.Queue[tuple[Group, str] | None], threads: int,
            deadline: float) -> list[Attempt]:
    """Record each attempt as it is reported, until every channel is done or the deadline."""
    attempts: list[Attempt] = []
    while threads:
        try:
            item = results.get(timeout=max(deadline - time.monotonic(), 0.0) + 1.0)
        except queue.Empty:
            break  # the deadline passed: what is not recorded stays pending
        if item is None:
            threads -= 1
            continue
        each, error = item
        store.attempted(each.ids, not error, error, None if not error else retry_at(each))
        attempts.append(Attempt(display(each.channel), each.event, len(each.deliveries),
                                not error, error))
    return attempts


def retry_at(each: Group) -> float:
    """When a failed message is tried again: 30 s after its first failure, doubling, at most
    1 h apart."""
    tried = min(max(d.attempts for d in each.deliveries), 20)
    return time.time() + min(RETRY_FIRST_S * 2.0 ** tried, RETRY_MAX_S)
