"""Notifications end to end: separate `urs run` processes record failures, open and resolve
incidents, and deliver them through real receivers on 127.0.0.1 (an HTTP server for json://
and form://, aiosmtpd with STARTTLS and AUTH for mailto://, a command channel)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import end_holding, holding, process_gone, urs, wait_for, write
from tests.receivers import http_receiver, smtp_receiver


def project(tmp_path: Path, channels: list[str], **notifications: Any) -> Path:
    """A project folder whose urs.yml opens an incident at the first failure (and never
    escalates it)."""
    config = {"store": str(tmp_path / "store.db"), "jobs": {},
              "escalation": {"max_failures": 1, "escalate_after_failures": 0},
              "notifications": {"channels": channels, **notifications}}
    write(tmp_path, json.dumps(config), "urs.yml")
    return tmp_path


def deliveries(tmp_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(
            "SELECT d.*, n.event FROM deliveries d JOIN notices n ON n.id = d.notice"
            " ORDER BY d.id")]


THREE = """
steps:
  - {name: api, check: 'test -e FLAG'}
  - {name: web, check: 'test -e FLAG'}
  - {name: db, check: 'test -e FLAG'}
"""


def test_three_incidents_of_one_run_are_one_message_per_channel(tmp_path: Path) -> None:
    flag, received = tmp_path / "healthy", tmp_path / "command.json"
    book = write(tmp_path, THREE.replace("FLAG", str(flag)))
    with http_receiver() as http:
        folder = project(tmp_path, [http.url("json"), http.url("form", "/form"),
                                    f"command:cat > {received}"])
        assert urs("run", str(book), cwd=folder).returncode == 1
        [as_form, as_json] = sorted(http.requests, key=lambda r: r.path)
        assert as_json.content_type == "application/json"
        title = ("[urs] 3 incidents opened: book/api on localhost, book/db on localhost, "
                 "book/web on localhost")
        assert as_json.json()["title"] == title and as_form.form()["title"] == title
        body = as_json.json()["message"]
        for step in ("api", "web", "db"):
            assert f"book/{step} on localhost: failed, 1 failures, open since" in body
        assert body.count("reason: exit code 1") == 3
        message = json.loads(received.read_text())
        assert (message["event"], message["title"]) == ("opened", title)
        assert [i["step"] for i in message["incidents"]] == ["api", "db", "web"]
        assert urs("run", str(book), cwd=folder).returncode == 1  # still open: no message
        assert len(http.requests) == 2
        flag.touch()
        assert urs("run", str(book), cwd=folder).returncode == 0
        assert len(http.requests) == 4
        resolved = http.requests[-1] if http.requests[-1].path == "/hook" else http.requests[-2]
        assert resolved.json()["title"].startswith("[urs] 3 incidents resolved: book/api on")
    assert json.loads(received.read_text())["event"] == "resolved"
    assert all(d["delivered_at"] and d["attempts"] == 1 for d in deliveries(tmp_path))


def test_mail_goes_through_starttls_and_auth(tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    book = write(tmp_path, f"steps: [{{name: disk-space, check: 'test -e {flag}'}}]")
    with smtp_receiver(tmp_path) as smtp:
        folder = project(tmp_path, [smtp.url()], escalate_to=[])
        assert urs("run", str(book), cwd=folder).returncode == 1
        flag.touch()
        assert urs("run", str(book), cwd=folder).returncode == 0
        assert smtp.tls == [True, True] and smtp.logins == ["alerts", "alerts"]
        opened, resolved = smtp.messages
    assert opened["Subject"] == "[urs] incident opened: book/disk-space on localhost " \
                                "(failed, 1 failures)"
    assert opened["To"] == "oncall@example.com"
    assert "reason: exit code 1" in opened.get_body().get_content()  # type: ignore[union-attr]
    assert re.fullmatch(r"\[urs\] resolved: book/disk-space on localhost "
                        r"\(recovered after 1 failures in \d+ s\)", resolved["Subject"])


def test_a_channel_down_then_up_is_delivered_once(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'echo down; exit 1'}]")
    with http_receiver() as http:
        http.status = 500
        folder = project(tmp_path, [http.url("json")])
        failed = urs("run", str(book), cwd=folder)
        assert failed.returncode == 1  # as without notifications
        assert "notification to json://127.0.0.1" in failed.stderr
        [attempt] = deliveries(tmp_path)
        assert (attempt["attempts"], attempt["delivered_at"]) == (1, None)
        assert "error=500" in attempt["last_error"]
        assert attempt["next_at"] - attempt["last_attempt_at"] >= 29  # retried in 30 s
        assert urs("run", str(book), cwd=folder).returncode == 1
        assert len(http.requests) == 1  # not due again yet
        http.status = 200
        with sqlite3.connect(tmp_path / "store.db") as db:  # the 30 s pass
            db.execute("UPDATE deliveries SET next_at = 0")
        assert urs("run", str(book), cwd=folder).returncode == 1
        assert urs("run", str(book), cwd=folder).returncode == 1
        assert len(http.requests) == 2  # the failed attempt, then once delivered
    [attempt] = deliveries(tmp_path)
    assert attempt["attempts"] == 2 and attempt["delivered_at"] and attempt["last_error"] == ""


def test_a_secret_in_a_steps_output_is_never_in_a_message(tmp_path: Path) -> None:
    secret, received = "hunter2-very-secret", tmp_path / "command.json"
    book = write(tmp_path, "steps: [{name: web, run: 'echo token=$API_TOKEN; exit 1'}]")
    with http_receiver() as http, smtp_receiver(tmp_path) as smtp:
        folder = project(tmp_path, [http.url("json"), smtp.url(),
                                    f"command:cat > {received}"])
        ran = urs("run", str(book), cwd=folder, env={"API_TOKEN": secret})
        assert ran.returncode == 1
        [request] = http.requests
        [mail] = smtp.messages
    texts = [request.json()["message"], mail.get_body().get_content(),  # type: ignore[union-attr]
             received.read_text()]
    assert all("token=********" in text for text in texts)
    assert not any(secret in text for text in texts)


def test_templates_from_the_configuration(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}, {name: db, run: 'exit 1'}]")
    with http_receiver() as http:
        folder = project(
            tmp_path, [http.url("json")], status_url="http://status.example/",
            title="{{ event | upper }}: {{ count }} on {{ host }}",
            body="{% for i in incidents %}{{ i.step }}={{ i.status }};{% endfor %} "
                 "{{ status_url }}")
        assert urs("run", str(book), cwd=folder).returncode == 1
        [request] = http.requests
    assert request.json()["title"] == "OPENED: 2 on localhost"
    assert request.json()["message"] == "db=failed;web=failed; http://status.example/"


def test_a_template_that_fails_falls_back_to_the_default(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    with http_receiver() as http:
        folder = project(tmp_path, [http.url("json")], title="{{ no_such_thing }}")
        assert urs("run", str(book), cwd=folder).returncode == 1
        [request] = http.requests
    sent = request.json()
    assert sent["title"] == "[urs] incident opened: book/web on localhost (failed, 1 failures)"
    assert "notifications.title could not be rendered, the default was used: undefined " \
           "variable: 'no_such_thing' is undefined" in sent["message"]


def test_a_command_channel_is_judged_by_its_exit_code_and_killed_at_the_timeout(
        tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    folder = project(tmp_path, ["command:cat >/dev/null; echo no route; exit 3",
                                f"command:echo $$ > {pid_file}; exec sleep 60"],
                     timeout="500ms")
    assert urs("run", str(book), cwd=folder).returncode == 1
    refused, hung = deliveries(tmp_path)
    assert refused["last_error"] == "exit code 3: no route"
    assert hung["last_error"] == "timed out after 0.5s (killed)"
    assert wait_for(lambda: process_gone(int(pid_file.read_text())), 10)


def test_a_command_channel_that_leaves_a_process_holding_its_output_is_not_waited_for(
        tmp_path: Path) -> None:
    """What a channel's command starts in a session of its own survives the kill and keeps the
    output pipe open: the sender gives up reading it instead of waiting for it to end."""
    import threading

    from runner.notify.channels import send_command
    from runner.notify.messages import Message

    pid_file = tmp_path / "pid"
    shell = f"setsid sleep 600 & echo $! > {pid_file}; exit 0"
    said: list[str] = []
    sender = threading.Thread(target=lambda: said.append(send_command(
        shell, Message("opened", "r", (), "t", "b"), 0.5)), daemon=True)
    sender.start()
    try:
        assert wait_for(lambda: said, 30), "the sender waited for the process left behind"
        assert said == ["timed out after 0.5s (killed)"]
    finally:
        with contextlib.suppress(ValueError, FileNotFoundError, ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_notify_test_reports_each_channel(tmp_path: Path) -> None:
    received = tmp_path / "command.json"
    with http_receiver() as http:
        down = "json://127.0.0.1:1/hook"
        folder = project(tmp_path, [http.url("json"), f"command:cat > {received}"],
                         escalate_to=[down])
        out = urs("notify", "test", cwd=folder)
        assert out.returncode == 1, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == f"ok     {http.url('json')}: delivered"
        assert lines[1] == f"ok     command:cat > {received}: delivered"
        assert lines[2].startswith(f"failed {down}: A Connection error occurred")
        assert len(lines) == 3
        [request] = http.requests
        assert request.json()["title"].startswith("[urs] test message: urs/notify-test on ")
        assert json.loads(received.read_text())["event"] == "test"
        assert urs("notify", "test", "1", cwd=folder).returncode == 0
        assert len(http.requests) == 2
        beyond = urs("notify", "test", "4", cwd=folder)
        assert beyond.returncode == 2 and "a channel's number, 1 to 3, found 4" in beyond.stderr


def test_notify_test_masks_the_password_of_a_channel(tmp_path: Path) -> None:
    folder = project(tmp_path, [])
    out = urs("notify", "test", "json://ops:pa55word-x@127.0.0.1:1/hook", cwd=folder)
    assert out.returncode == 1
    assert "pa55word-x" not in out.stdout and "json://ops:****@127.0.0.1:1/hook" in out.stdout
    none = urs("notify", "test", cwd=folder)
    assert none.returncode == 2 and "notifications.channels" in none.stderr


def test_apprise_is_imported_only_to_send(tmp_path: Path, store: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    code = (
        "import sys\n"
        "from runner.cli import cli\n"
        f"for args in (['--help'], ['notify', 'test', '--help'], ['run', {str(book)!r}]):\n"
        "    try:\n"
        "        cli(args, prog_name='urs')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('APPRISE', 'apprise' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=False)
    assert "APPRISE False" in out.stdout, out.stdout + out.stderr


def escalating(tmp_path: Path, channels: list[str], escalate_to: list[str],
               **escalation: Any) -> Path:
    config = {"store": str(tmp_path / "store.db"), "jobs": {},
              "escalation": {"max_failures": 1, "escalate_after_failures": 0, **escalation},
              "notifications": {"channels": channels, "escalate_to": escalate_to}}
    write(tmp_path, json.dumps(config), "urs.yml")
    return tmp_path


def titles(http: Any, path: str) -> list[str]:
    return [r.json()["title"] for r in http.requests if r.path == path]


def test_escalations_also_go_to_the_second_set_of_channels(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    with http_receiver() as http:
        folder = escalating(tmp_path, [http.url("json", "/team")],
                            [http.url("json", "/pager")], escalate_after_failures=1)
        for _ in range(3):
            assert urs("run", str(book), cwd=folder).returncode == 1
        team, pager = titles(http, "/team"), titles(http, "/pager")
    assert team[0] == "[urs] incident opened: book/web on localhost (failed, 1 failures)"
    assert re.fullmatch(r"\[urs\] escalated: book/web on localhost \(2 failures, open \d+ s\)",
                        team[1])
    assert len(team) == 2 and pager == team[1:]


def test_reminders_come_while_open_until_acknowledged(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    with http_receiver() as http:
        folder = escalating(tmp_path, [http.url("json")], [], remind_every="1ms")
        assert urs("run", str(book), cwd=folder).returncode == 1
        assert urs("run", str(book), cwd=folder).returncode == 1
        opened, *reminders = titles(http, "/hook")  # 1 ms: every pass finds one due
        assert opened.startswith("[urs] incident opened: book/web")
        assert len(reminders) >= 2
        assert reminders[-1].startswith("[urs] still failing: book/web on localhost (2 failures")
        assert urs("ack", "1", cwd=folder).returncode == 0
        assert urs("run", str(book), cwd=folder).returncode == 1
        assert len(http.requests) == 1 + len(reminders)


def test_failing_three_times_then_again_then_recovering_sends_two_messages(
        tmp_path: Path) -> None:
    flag, log = tmp_path / "healthy", tmp_path / "messages.jsonl"
    book = write(tmp_path, f"steps: [{{name: web, check: 'test -e {flag}'}}]")
    config = {"store": str(tmp_path / "store.db"), "jobs": {},
              "notifications": {"channels": [f"command:cat >> {log}; echo >> {log}"]}}
    write(tmp_path, json.dumps(config), "urs.yml")
    for _ in range(4):
        assert urs("run", str(book), cwd=tmp_path).returncode == 1
    flag.touch()
    assert urs("run", str(book), cwd=tmp_path).returncode == 0
    assert urs("run", str(book), cwd=tmp_path).returncode == 0
    opened, resolved = map(json.loads, log.read_text().splitlines())
    assert opened["title"] == "[urs] incident opened: book/web on localhost (failed, 3 failures)"
    assert [(i["status"], i["reason"], i["failures"]) for i in opened["incidents"]] == \
        [("failed", "exit code 1", 3)]
    assert re.fullmatch(r"\[urs\] resolved: book/web on localhost \(recovered after 4 failures "
                        r"in \d+ s\)", resolved["title"])
    assert resolved["incidents"][0]["status"] == "ok"
    assert opened["incidents"][0]["incident"] == resolved["incidents"][0]["incident"]


def test_a_run_killed_before_delivering_is_delivered_by_the_next_exactly_once(
        tmp_path: Path) -> None:
    started = tmp_path / "started"
    book = write(tmp_path, f"""
steps:
  - {{name: web, run: 'exit 1'}}
  - {{name: hold, run: '{holding(started)}'}}
""")
    other = write(tmp_path, "steps: [{name: fine, run: 'true'}]", "other.yml")
    with http_receiver() as http:
        folder = project(tmp_path, [http.url("json")])
        proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book)], cwd=folder,
                                stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            assert wait_for(lambda: started.exists() and len(deliveries(tmp_path)) == 1)
            proc.kill()  # SIGKILL: the notice is recorded, nothing was delivered
            proc.wait()
        finally:
            end_holding(started)
        assert http.requests == []
        assert urs("run", str(other), cwd=folder).returncode == 0
        assert urs("run", str(other), cwd=folder).returncode == 0
        [request] = http.requests  # delivered by the next run, once
    assert request.json()["title"].startswith("[urs] incident opened: book/web on localhost")
    [delivery] = deliveries(tmp_path)
    assert delivery["delivered_at"] and delivery["attempts"] == 1


def test_deliveries_are_claimed_so_two_senders_never_send_one_twice(tmp_path: Path) -> None:
    from runner.notify import Policy
    from runner.record.store import open_store

    book = write(tmp_path, "steps: [{name: web, run: 'exit 1'}]")
    folder = project(tmp_path, ["json://127.0.0.1:9/never"])
    assert urs("run", str(book), cwd=folder).returncode == 1  # its delivery fails: retried later
    first, second = (open_store(tmp_path / "store.db", Policy()) for _ in range(2))
    try:
        with sqlite3.connect(tmp_path / "store.db") as db:
            db.execute("INSERT INTO deliveries (notice, channel, next_at) SELECT id, 'x', 0"
                       " FROM notices")
        taken = first.pending(1e12, claim_s=60)
        assert sorted(p.channel for p in taken) == ["json://127.0.0.1:9/never", "x"]
        assert second.pending(1e12 + 30, claim_s=60) == []  # claimed by the first
    finally:
        first.close()
        second.close()
