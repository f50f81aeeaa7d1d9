"""Healthchecks.io-style pings for a job's runs, so a run that never happens or hangs is
noticed outside this machine: `URL/start` when a run starts, `URL` when it passed, `URL/fail`
when it did not, each with `?rid=<run id>`. A ping that fails is logged and recorded, and
never changes the run."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

from runner.daemon.log import say
from runner.errors import StoreError
from runner.record.store import open_store

TIMEOUT_S = 5.0


def ping(url: str, kind: str, run_id: str, job: str, store: Path,
         logger: logging.Logger) -> bool:
    """One ping (kind: start, success or fail); whether it was answered with 2xx."""
    target = url.rstrip("/") + ("" if kind == "success" else f"/{kind}") + f"?rid={run_id}"
    error = ""
    try:
        request = urllib.request.Request(target, method="GET")  # noqa: S310 - configured URL
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            ok = bool(200 <= answer.status < 300)
            error = "" if ok else f"status {answer.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        ok, error = False, str(getattr(exc, "reason", exc))
    if not ok:
        say(logger, logging.WARNING, f"{job}: heartbeat {kind} failed: {error}", job=job)
    _record(store, job, run_id, kind, ok, error)
    return ok


def _record(path: Path, job: str, run_id: str, kind: str, ok: bool, error: str) -> None:
    try:
        store = open_store(path)
    except StoreError:
        return
    try:
        store.ping(job, run_id, kind, ok, error)
    finally:
        store.close()
