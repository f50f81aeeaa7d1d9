"""The daemon's log: one line per finished step and one per job run (and per skipped tick,
reload, start and stop), as text or JSON lines, to standard output or to a file rotated by
size. Built on `logging`, so levels filter as operators expect: `warning` shows only what
did not pass."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from typing import Any

from runner.config import LogSettings
from runner.events import Event, RunFinished, RunStarted, StepFinished
from runner.model import PASSED, Status
from runner.redact import escape_controls

LOGGER = "urs.daemon"
QUIET = frozenset({*PASSED, Status.SKIPPED})  # steps logged at info; the rest at warning


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields = getattr(record, "fields", {})
        words = " ".join(f"{k}={_word(v)}" for k, v in fields.items() if v not in ("", None))
        line = f"{when} {record.levelname.lower():<7} {record.getMessage()}" + \
            (f"  {words}" if words else "")
        return escape_controls(line)  # a step's name or reason cannot drive the terminal


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                "message": record.getMessage(), **getattr(record, "fields", {})}
        return json.dumps(line, default=str)


def _word(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


def setup(settings: LogSettings, fmt: str | None = None) -> logging.Logger:
    """The daemon's logger, configured anew (a reload may change level, format or file)."""
    logger = logging.getLogger(LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: logging.Handler = logging.StreamHandler(sys.stdout)
    if settings.file is not None and settings.rotate_mb > 0:
        handler = logging.handlers.RotatingFileHandler(
            settings.file, maxBytes=int(settings.rotate_mb * 1024 * 1024),
            backupCount=settings.rotate_keep, encoding="utf-8")
    elif settings.file is not None:
        handler = logging.handlers.WatchedFileHandler(settings.file, encoding="utf-8")
    handler.setFormatter(JsonFormatter() if (fmt or settings.format) == "json"
                         else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(settings.level.upper())
    logger.propagate = False
    return logger


def say(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})


class JobLog:
    """Observes one job run: a line per finished step, one when the run ends."""

    label = "the daemon's log"

    def __init__(self, logger: logging.Logger, job: str) -> None:
        self.logger = logger
        self.job = job
        self.run_id = ""
        self.started = 0.0

    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id, self.started = event.run_id, event.started_at
            if event.check_mode:
                say(self.logger, logging.INFO, f"{self.job}: check mode: "
                    f"{event.check_reason or '--check'}: nothing is changed", job=self.job,
                    run=self.run_id[:8])
        elif isinstance(event, StepFinished):
            r = event.result
            level = logging.INFO if r.status in QUIET or r.ignored else logging.WARNING
            say(self.logger, level, f"{self.job}: {event.label} on {r.host}: {r.status}",
                job=self.job, run=self.run_id[:8], host=r.host, step=event.label,
                status=str(r.status), duration_s=r.duration_s, reason=r.reason)
        elif isinstance(event, RunFinished):
            result = event.result
            level = logging.INFO if result.exit_code == 0 else logging.WARNING
            say(self.logger, level, f"{self.job}: run {result.status}", job=self.job,
                run=result.run_id[:8], status=result.status, exit_code=result.exit_code,
                duration_s=round(event.ended_at - self.started, 3))
