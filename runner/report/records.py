"""What `urs history` and `urs status` print: tables with headers whose columns line up,
relative times, `-` for what is not known (never `None`), and the output tail of failed steps.
Stored text is shown as `one_line` writes it: no control character reaches the terminal."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.model import FAILING
from runner.redact import escape_controls
from runner.report.text import ago, duration, one_line, table, timestamp

TAIL_LINES = 5


def _took(run: Mapping[str, Any]) -> str:
    if run.get("ended_at") is None:
        return "running" if run["status"] == "running" else "-"
    return duration(max(run["ended_at"] - run["started_at"], 0.0))


def _note(run: Mapping[str, Any]) -> str:
    parts = ["check mode"] if run["check_mode"] else []
    parts += [f"job {run['job']}"] if run.get("job") else []
    parts += [run["reason"]] if run.get("reason") else []
    return "; ".join(parts)


def history(rows: Sequence[Mapping[str, Any]], as_json: bool, now: float | None = None) -> str:
    if as_json:
        return "\n".join(json.dumps(r, default=str) for r in rows)
    if not rows:
        return "no runs recorded yet"
    now = time.time() if now is None else now
    body = [(r["id"][:8], ago(r["started_at"], now), r["playbook"], r["status"], _took(r),
             ", ".join(r["hosts"]) or "-", _note(r)) for r in rows]
    return "\n".join(table(("RUN", "STARTED", "PLAYBOOK", "STATUS", "TOOK", "HOSTS", "NOTE"),
                           body))


def run_detail(run: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], as_json: bool,
               now: float | None = None) -> str:
    """One run: what it was, each step's outcome, and the output tail of those that failed."""
    if as_json:
        return json.dumps({**run, "steps": list(steps)}, default=str)
    code = "" if run["exit_code"] is None else f", exit code {run['exit_code']}"
    note = f" ({_note(run)})" if _note(run) else ""
    lines = [one_line(f"run {run['id']}: {run['playbook']} {run['status']}{code}{note}"),
             f"started {timestamp(run['started_at'])} ({ago(run['started_at'], now)}), "
             f"took {_took(run)}, on {one_line(', '.join(run['hosts']) or 'no host')}"]
    if not steps:
        return "\n".join(lines)
    rows = [(s["status"], s["host"], f"{s['playbook']}/{s['step']}", duration(s["duration_s"]),
             s["reason"] or "") for s in steps]
    header, *body = table(("STATUS", "HOST", "STEP", "TOOK", "REASON"), rows)
    lines += ["", header]
    for line, step in zip(body, steps, strict=True):
        lines.append(line)
        lines.extend(f"    | {text}" for text in output_tail(step))
        lines.extend(f"    {text}" for text in what_it_did(step))
    return "\n".join(lines)


DID_FIELDS = ("source", "restarted", "actions")  # what modules record of what they changed


def what_it_did(step: Mapping[str, Any]) -> list[str]:
    """What a recovery or a change did, as its module recorded it (`source: dump`,
    `restarted: api (from errored, attempts 1, recovered true)`)."""
    if step["status"] not in {"recovered", "changed"}:
        return []
    fields = step.get("fields") or {}
    return [one_line(f"{key}: {_compact(fields[key])}") for key in DID_FIELDS if fields.get(key)]


def _compact(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_compact(item) for item in value)
    if isinstance(value, dict):
        rest = ", ".join(f"{k} {json.dumps(v) if isinstance(v, bool) else v}"
                         for k, v in value.items() if k != "name")
        return f"{value.get('name', '')} ({rest})".strip() if rest else str(value.get("name"))
    return str(value)


def output_tail(step: Mapping[str, Any]) -> list[str]:
    """A failed step's last lines of output, without the line its reason already says."""
    if step["status"] not in {"failed", "error", "quarantined"}:
        return []
    output = (step.get("stdout_tail") or "") + "\n" + (step.get("stderr_tail") or "")
    reason = step["reason"] or ""
    lines = [line for line in output.splitlines() if line.strip()]
    return [escape_controls(line) for line in lines[-TAIL_LINES:] if line.strip() not in reason]


def status(rows: Sequence[Mapping[str, Any]], as_json: bool, now: float | None = None) -> str:
    if as_json:
        return "\n".join(json.dumps(r, default=str) for r in rows)
    body = [(_shown_status(r), r["playbook"], r["host"], r["step"], ago(r["ended_at"], now),
             r["reason"] or "") for r in rows]
    return "\n".join(table(("STATUS", "PLAYBOOK", "HOST", "STEP", "WHEN", "REASON"), body))


def _shown_status(row: Mapping[str, Any]) -> str:
    return f"{row['status']} (ignored)" if row.get("ignored") else str(row["status"])


def failing(row: Mapping[str, Any]) -> bool:
    return row["status"] in FAILING and not row.get("ignored")


def status_exit_code(rows: Sequence[Mapping[str, Any]]) -> int:
    """0 all is well, 1 something fails, 4 a host is unreachable (wins), like `urs run`."""
    found = {r["status"] for r in rows if failing(r)}
    if "unreachable" in found:
        return 4
    return 1 if found else 0
