"""Nothing a step does ends the run: a check that breaks is `error`, never followed by
`recover`, and every other step and host goes on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.connections import CommandResult, Connector
from runner.events import StepStarted
from runner.execute.context import Cancel
from runner.inventory import Host, Inventory
from runner.model import Status
from runner.modules import ActionResult, ModuleCall
from tests.helpers import Scripted, run_book, write


@pytest.fixture
def banner_port() -> Iterator[int]:
    """A port that answers every connection with an SSH banner: no HTTP at all."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def _recover_marker(tmp_path: Path) -> tuple[Path, str]:
    marker = tmp_path / "recovered"
    return marker, f"touch {marker}"


def test_http_check_against_a_non_http_banner_is_an_error_and_never_recovers(
        tmp_path: Path, banner_port: int) -> None:
    marker, recover = _recover_marker(tmp_path)
    book = write(tmp_path, f"""
steps:
  - name: web
    check: {{http: {{url: "http://127.0.0.1:{banner_port}/"}}}}
    recover: {recover}
  - {{name: after-web, needs: web, run: "true"}}
  - {{name: independent, run: "true"}}
""")
    out = run_book(book)
    web = out.steps["web"]
    assert web.status is Status.ERROR
    assert "BadStatusLine" in web.reason or "RemoteDisconnected" in web.reason, web.reason
    assert web.fields["error"] in {"BadStatusLine", "RemoteDisconnected"}
    assert not marker.exists()
    assert out.status("independent") == "ok"
    assert out.steps["after-web"].reason == "needs web, which broke"
    assert out.run.status == "failed" and out.run.exit_code == 1


def test_file_module_on_unexpected_stat_output_is_an_error(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: log, check: {file: {path: /var/log/x}}, recover: "never-run"}
  - {name: other, run: "echo fine"}
""")
    fake = Scripted([("stat", CommandResult(0, "file ??? 3\n", "")),
                     ("echo fine", CommandResult(0, "fine\n", ""))])
    out = run_book(book, connect=lambda host: fake)
    assert out.steps["log"].status is Status.ERROR
    assert out.steps["log"].reason.startswith("ValueError: invalid literal for int()")
    assert "traceback" in out.steps["log"].fields
    assert not any("never-run" in c for c in fake.calls)
    assert out.status("other") == "ok"


def test_a_bad_ansible_port_is_an_error_of_that_host_only(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    inv = Inventory(hosts={
        "bad": Host("bad", {"ansible_port": "twenty-two", "ansible_host": "127.0.0.1"}),
        "good": Host("good", {"ansible_connection": "local"}),
    }, groups={})
    out = run_book(book, inventory=inv, connect=Connector())
    by_host = {(e.host, e.step): e for e in _results(out)}
    assert by_host[("bad", "a")].status is Status.ERROR
    assert by_host[("bad", "a")].reason.startswith("cannot connect: ValueError")
    assert by_host[("good", "a")].status is Status.OK
    assert by_host[("good", "b")].status is Status.OK


def _results(out):  # type: ignore[no-untyped-def]
    return [r for h in out.run.hosts for r in h.steps]


@pytest.mark.parametrize(("template", "found"), [
    ("{{ 10 / count }}", "ZeroDivisionError: division by zero"),
    ("{{ range(10**6) }}", "range() of 1000000 items"),
    ("{{ 10 ** 5000 }}", "ValueError"),  # more digits than an int may turn into text
    ("{{ 7 ** 99999999 }}", "is too large"),
    ("{{ 'a' * 2000000000 }}", "is too large"),
    ("{{ [0] * 10**9 }}", "is too large"),
])
def test_templates_that_break_are_errors_and_never_recover(tmp_path: Path, template: str,
                                                           found: str) -> None:
    marker, recover = _recover_marker(tmp_path)
    book = write(tmp_path, f"""
vars: {{count: 0}}
steps:
  - {{name: broken, check: "echo {template}", recover: "{recover}"}}
  - {{name: other, run: "true"}}
""")
    out = run_book(book)
    assert out.steps["broken"].status is Status.ERROR
    assert found in out.steps["broken"].reason
    assert not marker.exists()
    assert out.status("other") == "ok"


def test_a_template_that_loops_too_long_ends_at_the_steps_deadline(tmp_path: Path) -> None:
    loops = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    book = write(tmp_path, f"""
steps:
  - {{name: spin, run: "echo {loops}", timeout: 0.5s}}
""")
    out = run_book(book)
    assert out.steps["spin"].status is Status.ERROR
    assert "rendering took longer than 0.5s" in out.steps["spin"].reason


def test_an_argument_invalid_once_rendered_is_an_error_and_never_recovers(tmp_path: Path) -> None:
    marker, recover = _recover_marker(tmp_path)
    book = write(tmp_path, f"""
steps:
  - name: port
    check: {{tcp: {{port: "{{{{ port }}}}"}}}}
    recover: {recover}
""")
    out = run_book(book, extra={"port": "abc"})
    assert out.steps["port"].status is Status.ERROR
    assert out.steps["port"].reason == (
        "tcp: port: expected a port (1 to 65535) or a list of ports, found 'abc'")
    assert not marker.exists()


def test_a_failing_observer_never_stops_the_steps(tmp_path: Path) -> None:
    class Broken:
        calls = 0

        def notify(self, event: object) -> None:
            Broken.calls += 1
            raise OSError(28, "No space left on device")

    book = write(tmp_path, "steps: [{name: a, run: 'true'}, {name: b, needs: a, run: 'true'}]")
    out = run_book(book, observers=[Broken()])
    assert out.status("a") == "ok" and out.status("b") == "ok"
    assert Broken.calls == len(out.events.events)  # it kept getting every event


def test_an_ignored_error_does_not_fail_the_run(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: broken, run: "echo {{ 1 / 0 }}", ignore_errors: true}
  - {name: after, needs: broken, run: "true"}
""")
    out = run_book(book)
    assert out.steps["broken"].status is Status.ERROR and out.steps["broken"].ignored
    assert out.status("after") == "ok"
    assert out.run.exit_code == 0


class Waits:
    """A module that waits for ever, the way a module loop waits for a state to settle."""

    name = "waits"
    doc = "waits"
    fields: dict[str, object] = {}

    def run(self, call: ModuleCall) -> ActionResult:
        while True:
            call.sleep(0.05)


def test_a_module_wait_ends_at_the_steps_timeout(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: settle, check: {waits: {}}, timeout: 0.3s}]")
    out = run_book(book, modules={"waits": Waits()})
    assert out.steps["settle"].status is Status.FAILED
    assert out.steps["settle"].reason == "waits: timed out after 0.3s"


def test_a_module_wait_ends_when_the_run_is_stopped(tmp_path: Path) -> None:
    book = write(tmp_path, "steps: [{name: settle, check: {waits: {}}, timeout: 1h}]")
    started = threading.Event()

    class Stopper:
        def notify(self, event: object) -> None:
            if isinstance(event, StepStarted):
                started.set()

    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(out=run_book(
        book, modules={"waits": Waits()}, observers=[Stopper()], cancel=cancel)))
    cancel = Cancel()
    worker.start()
    assert started.wait(30)
    cancel.stop("test stop")
    worker.join(30)
    out = result["out"]
    assert out.steps["settle"].status is Status.INTERRUPTED  # type: ignore[attr-defined]
    assert out.steps["settle"].reason == "interrupted: test stop"  # type: ignore[attr-defined]
