"""The sender against an outbox kept in memory: grouping, backoff, masking, the deadline; the
default messages."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from runner.notify import Pending
from runner.notify.channels import display
from runner.notify.messages import compose, span
from runner.notify.send import Group, deliver, group, retry_at


def payload(step: str, host: str = "web-1", **more: Any) -> dict[str, Any]:
    return {"event": "opened", "incident": 7, "playbook": "recover-pm2", "host": host,
            "step": step, "status": "failed", "reason": "exit code 1", "output": "down",
            "run_id": "r1", "failures": 3, "opened_at": time.time() - 60, "resolved_at": None,
            **more}


class Outbox:
    """What deliver needs of a store, in memory."""

    def __init__(self, pending: Sequence[Pending]) -> None:
        self.waiting = list(pending)
        self.attempts: list[tuple[list[int], bool, str, float | None]] = []
        self.due_calls = 0

    def due_notices(self, now: float) -> int:
        self.due_calls += 1
        return 0

    def pending(self, now: float, limit: int = 500, claim_s: float = 120.0,
                config: str | None = None) -> list[Pending]:
        return self.waiting[:limit]

    def attempted(self, ids: Sequence[int], ok: bool, error: str,
                  next_at: float | None) -> None:
        self.attempts.append((list(ids), ok, error, next_at))


def pending(index: int, channel: str, event: str = "opened", run_id: str = "r1",
            attempts: int = 0, **more: Any) -> Pending:
    return Pending(index, channel, event, run_id, payload(f"step-{index}", **more), attempts,
                   time.time())


def test_one_group_per_channel_event_and_run() -> None:
    outbox = [pending(i, channel) for channel in ("a", "b") for i in range(3)]
    outbox += [pending(10, "a", run_id="r2"), pending(11, "a", event="resolved")]
    groups = group(outbox)
    assert [(g.channel, g.event, g.run_id, g.ids) for g in groups] == [
        ("a", "opened", "r1", [0, 1, 2]), ("b", "opened", "r1", [0, 1, 2]),
        ("a", "opened", "r2", [10]), ("a", "resolved", "r1", [11])]


def test_retries_start_at_30s_double_and_stay_within_an_hour() -> None:
    def wait(attempts: int) -> float:
        return retry_at(Group("a", "opened", "r", (pending(1, "a", attempts=attempts),))) \
            - time.time()

    assert wait(0) == pytest.approx(30, abs=2)
    assert wait(1) == pytest.approx(60, abs=2)
    assert wait(3) == pytest.approx(240, abs=2)
    assert wait(12) == pytest.approx(3600, abs=2)
    assert wait(10_000) == pytest.approx(3600, abs=2)


def test_secrets_of_the_environment_are_masked_in_messages_and_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "correct-horse-battery")
    received = tmp_path / "message.json"
    sent = f"command:cat > {received}"
    failing = "command:echo login with $DB_PASSWORD failed; exit 1"
    store = Outbox([pending(1, sent, output="password=correct-horse-battery"),
                    pending(2, failing)])
    attempts = deliver(store, {}, time.monotonic() + 30)  # type: ignore[arg-type]
    assert store.due_calls == 1
    assert {(a.channel, a.ok) for a in attempts} == {(sent, True), (failing, False)}
    message = received.read_text()
    assert "correct-horse-battery" not in message and "password=********" in message
    [error] = [a.error for a in attempts if not a.ok]
    assert error == "exit code 1: login with ******** failed"
    recorded = {tuple(ids): (ok, err, next_at) for ids, ok, err, next_at in store.attempts}
    assert recorded[(1,)] == (True, "", None)
    assert recorded[(2,)][:2] == (False, error) and recorded[(2,)][2] > time.time()
    assert json.loads(message)["incidents"][0]["output"] == "password=********"


def test_nothing_is_attempted_past_the_deadline(tmp_path: Path) -> None:
    store = Outbox([pending(1, f"command:touch {tmp_path / 'sent'}")])
    assert deliver(store, {}, time.monotonic() - 1) == []  # type: ignore[arg-type]
    assert store.attempts == [] and not (tmp_path / "sent").exists()


def test_an_unknown_scheme_is_a_failed_attempt_not_an_exception() -> None:
    store = Outbox([pending(1, "nosuchservice://host/path")])
    [attempt] = deliver(store, {"timeout": "2s"}, time.monotonic() + 30)  # type: ignore[arg-type]
    assert not attempt.ok and "nosuchservice://host/path" in attempt.error
    assert store.attempts[0][1] is False


def test_default_titles_name_up_to_three_incidents() -> None:
    several = [payload(f"s{i}", host=f"web-{i}") for i in range(5)]
    message = compose("opened", "r1", several, {})
    assert message.title == ("[urs] 5 incidents opened: recover-pm2/s0 on web-0, "
                             "recover-pm2/s1 on web-1, recover-pm2/s2 on web-2, and 2 more")
    assert message.body.count("reason: exit code 1") == 5
    one = compose("escalated", "r1", [payload("daemon-alive")], {"status_url": "http://s/"})
    assert one.title == "[urs] escalated: recover-pm2/daemon-alive on web-1 (3 failures, " \
                        "open 1 min)"
    assert one.body.endswith("Status: http://s/\n")
    resolved = compose("resolved", "r1", [payload("disk-space", failures=5, opened_at=1000.0,
                                                  resolved_at=1840.0)], {})
    assert resolved.title == "[urs] resolved: recover-pm2/disk-space on web-1 (recovered " \
                             "after 5 failures in 14 min)"


def test_spans_and_displayed_channels() -> None:
    assert [span(s) for s in (5, 840, 3600, 7500)] == ["5 s", "14 min", "1 h", "2 h 5 min"]
    assert display("mailto://ops:pw%2Fx-1@mail.example?mode=starttls") == \
        "mailto://ops:****@mail.example?mode=starttls"
    assert display("slack://T1234ABCD/B5678EFGH/abcdefghijklmnop/#alerts") == \
        "slack://****/****/****/#alerts"
    assert display("https://hooks.slack.com/services/T1234ABCD/B5678EFGH/abcdefgh1jklmnop") \
        == "https://hooks.slack.com/services/****/****/****"
    assert display("json://127.0.0.1:8080/hook?token=abc123") == \
        "json://127.0.0.1:8080/hook?token=****"
    assert display("command:echo hi") == "command:echo hi"


def test_a_message_that_cannot_be_composed_is_a_failed_attempt(tmp_path: Path) -> None:
    broken = Pending(1, f"command:touch {tmp_path / 'sent'}", "opened", "r1", {"event": "x"}, 0,
                     time.time())
    store = Outbox([broken])
    [attempt] = deliver(store, {}, time.monotonic() + 30)  # type: ignore[arg-type]
    assert not attempt.ok and attempt.error.startswith("could not compose the message: ")
    assert store.attempts[0][3] is not None  # retried later
    assert not (tmp_path / "sent").exists()
