"""Where a message goes: an Apprise URL (json://, mailto://, slack://, ...; Apprise is imported
only here, when a message is sent) or `command:<shell command>`, urs's own channel, which reads
the message and its incidents as JSON on standard input and succeeds with exit code 0.

`send` returns "" when the message was delivered, else why not; it never raises for a channel
that is down, and it ends by the timeout it is given.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from runner.notify.messages import Message
from runner.redact import SECRET_NAME

COMMAND = "command:"
ERROR_TAIL = 300  # characters of a failing command's output kept as the error
KILLED_S = 2.0  # how long a killed command's output is read before it is left behind
QUERY = {"pass", "sig", "signature"}  # secret query parameters SECRET_NAME does not catch


def send(channel: str, message: Message, timeout: float) -> str:
    """Deliver message through channel within timeout; "" or the reason it failed."""
    if channel.startswith(COMMAND):
        return send_command(channel.removeprefix(COMMAND), message, timeout)
    return send_apprise(channel, message, timeout)


def send_command(shell: str, message: Message, timeout: float) -> str:
    """Run shell with the message as JSON on stdin; its exit code decides. Killed, with
    everything it started, at the timeout."""
    env = {**os.environ, "URS_EVENT": message.event, "URS_TITLE": message.title}
    with subprocess.Popen(shell, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env, start_new_session=True) as child:
        try:
            output, _ = child.communicate(json.dumps(message.as_json()).encode(), timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # all of it may have just ended
                os.killpg(child.pid, signal.SIGKILL)
            # what it started in a session of its own may hold the output open: not waited for
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.communicate(timeout=KILLED_S)
            return f"timed out after {timeout:g}s (killed)"
    if child.returncode == 0:
        return ""
    tail = output.decode(errors="replace").strip()[-ERROR_TAIL:]
    return f"exit code {child.returncode}" + (f": {tail}" if tail else "")


def send_apprise(url: str, message: Message, timeout: float) -> str:
    """Notify through Apprise, with its connect and read timeouts set to timeout; Apprise's
    own warnings and errors (what this thread logged) are the reason when it fails."""
    import apprise

    with _ThreadLog() as log:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            return log.text() or "not a URL Apprise supports (see docs/alerts.md)"
        plugin.socket_connect_timeout = timeout
        plugin.socket_read_timeout = timeout
        try:
            ok = plugin.notify(body=message.body, title=message.title)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is that channel's failure
            return f"{type(exc).__name__}: {exc}"
    return "" if ok else (log.text() or "Apprise reported a failure")


class _ThreadLog(logging.Handler):
    """Apprise's warnings, errors and socket exceptions logged by this thread (channels are
    sent from several threads at once, so apprise.LogCapture, which takes every thread's
    records, would mix them). Apprise's log goes nowhere else: it is what the attempts record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.lines: list[str] = []
        self.logger = logging.getLogger("apprise")

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        text = record.getMessage()
        if record.levelno >= logging.WARNING or text.startswith("Socket Exception"):
            self.lines.append(text)

    def text(self) -> str:
        return "; ".join(dict.fromkeys(line.strip() for line in self.lines if line.strip()))

    def __enter__(self) -> _ThreadLog:
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        return self

    def __exit__(self, *_: object) -> None:
        self.logger.removeHandler(self)


def url_secrets(channel: str) -> list[str]:
    """The secrets written in a channel's URL (its password, secret-looking query parameters,
    and the tokens of webhook URLs: long path parts, or shorter ones with digits), so that no
    message or error repeats them."""
    if channel.startswith(COMMAND):
        return []
    parts = urlsplit(channel)
    found = [unquote(parts.password)] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if SECRET_NAME.search(k) or k in QUERY]
    host = [] if "." in parts.netloc or ":" in parts.netloc else [parts.netloc]
    found += [unquote(s) for s in [*host, *parts.path.split("/")] if _token(s)]
    return [*found, *(quote(s, safe="") for s in found)]  # as written in the URL, too


def _token(text: str) -> bool:
    return len(text) >= 16 or (len(text) >= 8 and any(c.isdigit() for c in text))


def display(channel: str) -> str:
    """The channel as shown to people: the URL without its secrets."""
    if channel.startswith(COMMAND):
        return channel
    text = channel
    for secret in sorted(set(url_secrets(channel)), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text
