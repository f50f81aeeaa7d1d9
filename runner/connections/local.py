"""Commands on the control machine, each in its own process group so a timeout or Ctrl-C
kills the command and everything it started."""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping

from runner.connections import KILL_GRACE_S, LINGER_S, Become, CommandResult, Tail

_POLL_S = 0.05  # how often a command's exit is looked for while its pipes stay open


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
            out, err, timed_out = _read(proc, timeout)
        finally:
            _close(proc)
            with self._lock:
                self._running.discard(proc)
        rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        return CommandResult(rc, out.text(), err.text(), timed_out)

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


def _read(proc: subprocess.Popen[bytes], timeout: float | None) -> tuple[Tail, Tail, bool]:
    """Read both pipes until they close, or LINGER_S after the command exits (a process it
    left may hold them), or the deadline: then kill the group and stop reading."""
    deadline = None if timeout is None else time.monotonic() + timeout
    tails = {proc.stdout: Tail(), proc.stderr: Tail()}
    with selectors.DefaultSelector() as selector:
        for stream in tails:
            selector.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
        exited: float | None = None
        while selector.get_map():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                _terminate(proc)
                return tails[proc.stdout], tails[proc.stderr], True
            if exited is None and proc.poll() is not None:
                exited = now
            if exited is not None and now - exited >= LINGER_S:
                break
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - now)
            for key, _ in selector.select(max(wait, 0.0)):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    tails[key.fileobj].add(chunk)  # type: ignore[index]
                else:
                    selector.unregister(key.fileobj)
    # both pipes closed: a command that closed its output may still run, within the deadline
    try:
        proc.wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        _terminate(proc)
        return tails[proc.stdout], tails[proc.stderr], True
    return tails[proc.stdout], tails[proc.stderr], False


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after a grace period."""
    _kill_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_S)
    _kill_group(proc, signal.SIGKILL)
    proc.wait()


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
