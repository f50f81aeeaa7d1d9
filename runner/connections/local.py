"""Commands on the control machine, each in its own process group so a timeout or Ctrl-C
kills the command and everything it started."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import threading
from collections.abc import Mapping

from runner.connections import KILL_GRACE_S, Become, CommandResult


class LocalConnection:
    is_local = True

    def __init__(self, host: str = "localhost") -> None:
        self.host = host
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        become: Become | None = None,
    ) -> CommandResult:
        argv = ["/bin/sh", "-c", command]
        if become is not None and not _already(become.user):
            argv = ["sudo", "-n", "-H", "-u", become.user, "--", *argv]
        full_env = {**os.environ, **(env or {})}
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=full_env, cwd=cwd, start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(127, "", f"cannot start: {exc}")
        return self._wait(proc, timeout)

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float | None) -> CommandResult:
        with self._lock:
            if self._cancelled:
                _kill_group(proc, signal.SIGKILL)
            self._running.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            out, err = _terminate(proc)
            timed_out = True
        finally:
            with self._lock:
                self._running.discard(proc)
        rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        return CommandResult(rc, _text(out), _text(err), timed_out)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            running = list(self._running)
        for proc in running:
            _kill_group(proc, signal.SIGTERM)
            _kill_group(proc, signal.SIGKILL)

    def close(self) -> None:
        return None


def _already(user: str) -> bool:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name == user
    except KeyError:
        return False


def _kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _terminate(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """SIGTERM the whole group, then SIGKILL what is left after a grace period."""
    _kill_group(proc, signal.SIGTERM)
    try:
        return proc.communicate(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        return proc.communicate()


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")
