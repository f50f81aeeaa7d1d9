"""What is still running, on a terminal only: one line, rewritten in place each half second,
naming the step that has run longest and for how long. Never written to a pipe or a file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runner.report.text import duration

LONG_STEP_S = 2.0  # a step running longer than this is shown with its elapsed time
EVERY_S = 0.5


class Progress:
    """Steps running now, by (host, label); `show` gets the line to draw ("" to clear it)."""

    def __init__(self, show: Callable[[str], None], long_s: float = LONG_STEP_S,
                 every_s: float = EVERY_S) -> None:
        self._show = show
        self._long_s = long_s
        self._every_s = every_s
        self._running: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()

    def started(self, host: str, label: str) -> None:
        with self._lock:
            self._running[(host, label)] = time.monotonic()

    def finished(self, host: str, label: str) -> None:
        with self._lock:
            self._running.pop((host, label), None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(2.0)

    def line(self, now: float) -> str:
        with self._lock:
            running = sorted(self._running.items(), key=lambda item: item[1])
        if not running or now - running[0][1] < self._long_s:
            return ""
        (host, label), since = running[0]
        more = f" (and {len(running) - 1} more)" if len(running) > 1 else ""
        return f"  {'running':<11} {host}  {label}  {duration(now - since)}{more}"

    def _tick(self) -> None:
        while not self._stopped.wait(self._every_s):
            self._show(self.line(time.monotonic()))
