"""The outbox as configurations change: what a configuration queued for a channel it no longer
has is dropped with the reason (by the next `urs run`, or by the daemon when it reloads), shown
by `urs incidents`, never sent, not even when the channel comes back; another configuration
sharing the store leaves it alone. The daemon's sender makes reminders due by its policy."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers import urs, write
from tests.integration.daemontools import Project, command_channel, messages

DOWN = "command:false"  # a channel whose every delivery fails: retried later, until dropped


def configure(folder: Path, store: Path, channels: list[str], **escalation: Any) -> None:
    """urs.yml opening an incident at the first failure, never escalating it."""
    config = {"store": str(store), "jobs": {},
              "escalation": {"max_failures": 1, "escalate_after_failures": 0, **escalation},
              "notifications": {"channels": channels}}
    folder.mkdir(exist_ok=True)
    write(folder, json.dumps(config), "urs.yml")


def deliveries(store: Path, channel: str) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM deliveries WHERE channel = ?"
                                            " ORDER BY id", (channel,))]


def make_due(store: Path) -> None:
    """Every undelivered delivery due now, as if its retry time had come."""
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE deliveries SET next_at = 0 WHERE delivered_at IS NULL")


def test_a_run_drops_what_its_configuration_queued_for_a_removed_channel(
        tmp_path: Path) -> None:
    store, received = tmp_path / "store.db", tmp_path / "received"
    good = f"command:cat >> {received}"
    mine, other = tmp_path / "mine", tmp_path / "other"
    failing = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    fine = write(tmp_path, "steps: [{name: fine, run: 'true'}]", "fine.yml")
    configure(mine, store, [good, DOWN])
    assert urs("run", str(failing), cwd=mine).returncode == 1
    [waiting] = deliveries(store, DOWN)
    assert waiting["attempts"] == 1 and not waiting["delivered_at"]
    assert "channel command:false is failing" in urs("incidents", cwd=mine).stdout
    configure(other, store, [good])  # another project sharing the store: not its delivery
    make_due(store)
    assert "dropped" not in urs("run", str(fine), cwd=other).stderr
    assert [(d["attempts"], d["dropped_at"]) for d in deliveries(store, DOWN)] == [(1, None)]
    configure(mine, store, [good])  # the channel removed from this project's urs.yml
    out = urs("run", str(fine), cwd=mine)
    reason = ("dropped: the channel is no longer in notifications.channels or escalate_to of "
              f"{mine / 'urs.yml'}")
    assert f"warning: 1 undelivered notification to {DOWN} {reason}\n" in out.stderr
    [dropped] = deliveries(store, DOWN)
    assert dropped["dropped_at"] and dropped["dropped_reason"] == reason
    shown = urs("incidents", cwd=mine).stdout
    assert f"opened -> {DOWN} {reason}" in shown and "is failing" not in shown
    configure(mine, store, [good, DOWN])  # named again: what was dropped stays dropped
    make_due(store)
    assert urs("run", str(fine), cwd=mine).returncode == 0
    assert deliveries(store, DOWN) == [{**dropped, "next_at": 0}]
    assert received.read_text().count("incident opened") == 1


def test_the_daemon_drops_them_on_reload_and_a_channel_named_again_gets_only_new_ones(
        project: Project) -> None:
    flag, received = project.root / "healthy", project.root / "received"
    good = f"command:cat >> {received}"
    project.book("web", f"steps: [{{name: web, check: 'test -e {flag}'}}]")
    job = "  web: {playbooks: [web], interval: 0.2s, max_failures: 1}\n"
    notify = "escalation: {escalate_after_failures: 0}\nnotifications:\n  channels: "
    project.config(job, f"{notify}{json.dumps([good, DOWN])}\n")
    proc = project.start()
    project.wait(lambda: received.exists() and "incident opened" in received.read_text())
    project.wait(lambda: [d["attempts"] > 0 for d in deliveries(project.store, DOWN)] == [True])
    project.config(job, f"{notify}{json.dumps([good])}\n")
    proc.send_signal(signal.SIGHUP)
    project.wait(lambda: deliveries(project.store, DOWN)[0]["dropped_at"])
    tried = deliveries(project.store, DOWN)[0]["attempts"]
    project.config(job, f"{notify}{json.dumps([good, DOWN])}\n")
    proc.send_signal(signal.SIGHUP)
    project.wait(lambda: project.output(proc).count("reloaded: 1 jobs") == 2)
    make_due(project.store)
    flag.touch()  # resolved: a new notice, to both channels again
    project.wait(lambda: len(deliveries(project.store, DOWN)) == 2
                 and deliveries(project.store, DOWN)[1]["attempts"] >= 1)
    old, new = deliveries(project.store, DOWN)
    assert old["attempts"] == tried and old["dropped_at"]  # due, yet never sent again
    assert new["dropped_at"] is None
    log = project.stop(proc)
    assert f"notifications: 1 undelivered notification to {DOWN} dropped:" in log


def test_the_daemon_sends_the_reminders_its_policy_makes_due(project: Project) -> None:
    received = project.root / "received"
    project.book("web", "steps: [{name: web, run: 'exit 1'}]")
    project.config("  web: {playbooks: [web], interval: 1h, max_failures: 1}\n",
                   "escalation: {escalate_after_failures: 0, remind_every: 1ms}\n"
                   f"notifications:\n  channels: [{json.dumps(command_channel(received))}]\n")
    proc = project.start()
    project.wait(lambda: len(messages(received)) >= 3)
    opened, *reminders = [message["event"] for message in messages(received)]
    assert opened == "opened" and set(reminders) == {"reminder"}
    project.stop(proc)


def test_deliveries_queued_before_they_were_named_are_dropped_by_no_project(
        tmp_path: Path) -> None:
    """A store upgraded to version 7 keeps its undelivered deliveries with config '': they may
    be any project's, so no project's configuration drops them (each still sends them)."""
    store, received = tmp_path / "store.db", tmp_path / "received"
    mine, other = tmp_path / "mine", tmp_path / "other"
    configure(mine, store, [DOWN])
    assert urs("run", str(write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")),
               cwd=mine).returncode == 1
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE deliveries SET config = ''")  # as queued before version 7
    configure(other, store, [f"command:cat >> {received}"])
    fine = write(tmp_path, "steps: [{name: fine, run: 'true'}]", "fine.yml")
    assert "dropped" not in urs("run", str(fine), cwd=other).stderr
    [legacy] = deliveries(store, DOWN)
    assert legacy["dropped_at"] is None and legacy["config"] == ""
