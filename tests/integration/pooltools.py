"""Helpers for the pool's tests: a clock the test moves, a fleet host as an inventory Host,
a playbook run with a given connector, the client port sshd saw, and a host of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.inventory import Host, Inventory
from tests.helpers import Outcome, run_book, write
from tests.sshd import Fleet, SSHHost

WHO = "steps: [{name: who, run: 'echo $SSH_CONNECTION'}]\n"


class Clock:
    """The pool's clock, moved by the test: backoff and idle time without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", name="host")
def own_host(fleet: Fleet) -> SSHHost:
    """A host of its own, per test module that imports this fixture: its tests restart and
    kill it."""
    (own,) = fleet.start(1)
    return own


def as_host(fleet: Fleet, ssh: SSHHost, **extra: object) -> Host:
    return Host(ssh.name, {"ansible_host": ssh.address, "ansible_port": ssh.port,
                           "ansible_user": "root",
                           "ansible_ssh_private_key_file": str(fleet.client_key), **extra})


def run(tmp: Path, host: Host, connect: object, book: str = WHO) -> Outcome:
    path = write(tmp, book)
    return run_book(path, connect=connect,  # type: ignore[arg-type]
                    inventory=Inventory({host.name: host}, {}))


def client_port(outcome: Outcome, step: str = "who") -> int:
    """The client side's port of the TCP connection the step ran on, as sshd saw it."""
    result = outcome.steps[step]
    assert str(result.status) == "ok", result.reason
    return int(result.stdout.split()[1])
