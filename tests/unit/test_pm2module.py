"""The pm2 module against a scripted host: an empty process list where the dump or an
ecosystem file names apps is a failure; waits for apps to settle and between restarts end at
the attempt's deadline (DeadlineExceeded) or when the run is cancelled (Interrupted)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import pytest

from runner.connections import CommandResult
from runner.errors import DeadlineExceeded, Interrupted
from runner.fields import with_defaults
from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.pm2 import PM2
from runner.modules.pm2.host import PM2Host
from runner.modules.pm2.state import MARK
from tests.helpers import Scripted, wait_for

HOME = "/srv/pm2"
NEVER = 3600.0  # a wait that only a deadline or a cancel can end within the test's run


def _ok(stdout: str = "") -> CommandResult:
    return CommandResult(0, stdout, "")


def _alive(*apps: dict[str, Any]) -> CommandResult:
    return _ok(f"{MARK} alive 99 {HOME}\n" + json.dumps(list(apps)) + "\n")


def _app(name: str, status: str, restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "pm_id": 0, "pid": 42 if status == "online" else 0,
            "pm2_env": {"status": status, "restart_time": restarts}}


def _call(connection: Scripted, mode: Mode = Mode.CHECK, deadline: float | None = None,
          **args: Any) -> ModuleCall:
    return ModuleCall(args=with_defaults(PM2.fields, args), mode=mode, connection=connection,
                      host="fake", vars={}, deadline=deadline)


def _check(*script: tuple[str, CommandResult], **args: Any) -> ActionResult:
    return PM2().run(_call(Scripted(list(script)), state="online", **args))


def test_an_empty_process_list_where_the_dump_names_apps_fails() -> None:
    dump = json.dumps([{"name": "web"}, {"name": "api"}])
    res = _check(("urs-pm2", _alive()), ("dump.pm2", _ok(dump)))
    assert not res.ok
    assert res.reason == f"no app is registered, but {HOME}/dump.pm2 lists web, api"


def test_an_empty_process_list_where_the_ecosystem_names_apps_fails() -> None:
    res = _check(("urs-pm2", _alive()), ("dump.pm2", _ok("[]")),
                 ("node -e", _ok('[{"name": "api"}]')), ecosystem="/srv/app/ecosystem.config.js")
    assert not res.ok
    assert res.reason == "no app is registered, but /srv/app/ecosystem.config.js lists api"


def test_an_empty_process_list_with_nothing_expected_is_ok() -> None:
    res = _check(("urs-pm2", _alive()), ("dump.pm2", CommandResult(1, "", "")))
    assert res.ok, res.reason


def test_named_apps_missing_from_an_empty_list_are_named() -> None:
    res = _check(("urs-pm2", _alive()), apps=["web"])
    assert not res.ok and res.reason == "app web is not registered"


class CancelAfter(Scripted):
    """Sets the run's cancel once `count` commands matching `pattern` were run."""

    def __init__(self, script: list[tuple[str, CommandResult]], pattern: str, count: int) -> None:
        super().__init__(script)
        self.cancel_event = threading.Event()
        self.pattern, self.count = pattern, count

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        result = super().run(command, **kwargs)
        if sum(self.pattern in c for c in self.calls) >= self.count:
            self.cancel_event.set()
        return result


UNSETTLED = [("urs-pm2", _alive(_app("web", "launching")))]


def test_settle_wait_ends_at_the_attempts_deadline() -> None:
    host = PM2Host(_call(Scripted(UNSETTLED), deadline=time.monotonic() + 0.3))
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        host.stable(["web"], NEVER)
    assert time.monotonic() - start < NEVER / 10


def test_settle_wait_ends_when_the_run_is_cancelled() -> None:
    connection = CancelAfter(UNSETTLED, "urs-pm2", 3)
    call = dataclasses.replace(_call(connection), cancel=connection.cancel_event)
    with pytest.raises(Interrupted):
        PM2Host(call).stable(["web"], NEVER)
    assert sum("urs-pm2" in c for c in connection.calls) == 3  # polled, then stopped at once


def _restart_call(connection: Scripted, **extra: Any) -> ModuleCall:
    return _call(connection, Mode.APPLY, state="online", restart_delay="1h", settle="0s",
                 max_restart_attempts=3, **extra)


ERRORED = [("urs-pm2", _alive(_app("web", "errored"))), ("restart", _ok())]


def _never_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each restart is judged at once as failed, so the next wait is the restart delay."""
    monkeypatch.setattr(PM2Host, "stable", lambda self, names, timeout: (False, self.state()))


def test_restart_delay_ends_at_the_attempts_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    _never_stable(monkeypatch)
    connection = Scripted(ERRORED)
    call = _restart_call(connection, deadline=time.monotonic() + 0.3)
    with pytest.raises(DeadlineExceeded):
        PM2().run(call)
    assert sum("restart" in c for c in connection.calls) == 1


def test_restart_delay_ends_when_the_run_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    _never_stable(monkeypatch)
    connection = Scripted(ERRORED)
    call = _restart_call(connection)
    cancel = threading.Thread(target=lambda: wait_for(
        lambda: any("restart" in c for c in connection.calls)) and call.cancel.set())
    cancel.start()
    with pytest.raises(Interrupted):
        PM2().run(call)
    cancel.join()
    assert sum("restart" in c for c in connection.calls) == 1
