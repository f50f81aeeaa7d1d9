"""Text for the read-only commands: graph, list, history, status. Returns strings; the CLI
prints them."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.model import Playbook
from runner.plan import Plan


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def graph_text(plan: Plan) -> str:
    lines = [f"{plan.root.name}: {len(plan.nodes)} steps"]
    for node in plan.ordered():
        needs = ", ".join(n.label for n in plan.needs(node.key))
        action = node.step.kind if node.step.kind != "module" else node.step.action.module
        extra = " + recover" if node.step.recover else ""
        lines.append(f"  {node.label} [{action}{extra}]" + (f" <- {needs}" if needs else ""))
    return "\n".join(lines)


def dot_id(text: str) -> str:
    """A DOT double-quoted ID: quotes and backslashes escaped, line breaks as \\n, so no name
    can end the string and add attributes or statements."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'


def mermaid_text(text: str) -> str:
    """A Mermaid label: characters Mermaid reads as syntax written as entity codes."""
    return "".join(f"#{ord(c)};" if c in '"#<>&;`[]{}()|\\' or not c.isprintable() else c
                   for c in text)


def graph_dot(plan: Plan) -> str:
    lines = [f"digraph {dot_id(plan.root.name)} {{", "  rankdir=LR;"]
    for node in plan.ordered():
        shape = "diamond" if node.step.kind == "check" else "box"
        lines.append(f"  {dot_id(node.label)} [shape={shape}];")
    for node in plan.ordered():
        lines.extend(f"  {dot_id(need.label)} -> {dot_id(node.label)};"
                     for need in plan.needs(node.key))
    lines.append("}")
    return "\n".join(lines)


def graph_mermaid(plan: Plan) -> str:
    ids = {node.key: f"s{i}" for i, node in enumerate(plan.ordered())}
    lines = ["flowchart LR"]
    for node in plan.ordered():
        text = mermaid_text(node.label)
        lines.append(f'  {ids[node.key]}{{"{text}"}}' if node.step.kind == "check"
                     else f'  {ids[node.key]}["{text}"]')
    for node in plan.ordered():
        lines.extend(f"  {ids[n.key]} --> {ids[node.key]}" for n in plan.needs(node.key))
    return "\n".join(lines)


GRAPH_FORMATS = {"text": graph_text, "dot": graph_dot, "mermaid": graph_mermaid}


def playbook_list(found: Mapping[str, tuple[str, Playbook | None]]) -> str:
    width = max([len(n) for n in found] + [8])
    lines = []
    for name, (origin, book) in found.items():
        about = book.description if book else "(does not load: run `urs check` on it)"
        lines.append(f"{name:<{width}}  {origin:<8}  {about}")
    return "\n".join(lines)


def _took(row: Mapping[str, Any]) -> str:
    return f"{row['ended_at'] - row['started_at']:.1f}s" if row.get("ended_at") else "-"


def history(rows: Sequence[Mapping[str, Any]], as_json: bool) -> str:
    if as_json:
        return "\n".join(json.dumps(r, default=str) for r in rows)
    if not rows:
        return "no runs recorded yet"
    lines = [f"{'run':<8}  {'started (UTC)':<20}  {'playbook':<20}  {'status':<11}  took  hosts"]
    for r in rows:
        check = " (check)" if r["check_mode"] else ""
        lines.append(f"{r['id'][:8]:<8}  {when(r['started_at']):<20}  {r['playbook']:<20}  "
                     f"{r['status']:<11}  {_took(r)}  {', '.join(r['hosts'])}{check}")
    return "\n".join(lines)


def run_detail(run: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps({**run, "steps": list(steps)}, default=str)
    lines = [f"run {run['id']}  {run['playbook']}  {run['status']}  exit code "
             f"{run['exit_code']}  started {when(run['started_at'])}  took {_took(run)}"]
    for s in steps:
        reason = f"  {s['reason']}" if s["reason"] else ""
        lines.append(f"  {s['status']:<11} {s['host']}  {s['playbook']}/{s['step']}  "
                     f"{s['duration_s']:.2f}s{reason}")
    return "\n".join(lines)


def status(rows: Sequence[Mapping[str, Any]], as_json: bool) -> str:
    if as_json:
        return "\n".join(json.dumps(r, default=str) for r in rows)
    if not rows:
        return "no outcomes recorded yet"
    lines = []
    for r in rows:
        reason = f"  {r['reason']}" if r["reason"] else ""
        lines.append(f"{r['status']:<11} {r['playbook']}/{r['step']}  {r['host']}  "
                     f"{when(r['ended_at'])}{reason}")
    return "\n".join(lines)


def log_lines(rows: Sequence[Mapping[str, Any]]) -> str:
    """Step outcomes as `urs logs` shows them: one line each, then their output's tail."""
    lines = []
    for s in rows:
        job = f" [{s['job']}]" if s.get("job") else ""
        reason = f"  {s['reason']}" if s["reason"] else ""
        lines.append(f"{when(s['ended_at'])}  {s['status']:<11} {s['host']}  "
                     f"{s['playbook']}/{s['step']}{job}{reason}")
        output = (s.get("stdout_tail") or "") + (s.get("stderr_tail") or "")
        lines.extend(f"    | {line}" for line in output.rstrip().splitlines()[-5:] if line.strip())
    return "\n".join(lines)


STALE_BEAT_S = 60.0  # a daemon silent longer than this is shown as not running


def daemon_status(monitors: Sequence[Mapping[str, Any]], jobs: Sequence[Mapping[str, Any]],
                  now: float | None = None) -> str:
    """Whether a daemon runs (and when it last ticked), and each job's latest run."""
    now = time.time() if now is None else now
    lines = []
    for m in monitors:
        if m["stopped_at"]:
            state = f"stopped at {when(m['stopped_at'])}"
        elif now - m["last_tick"] > STALE_BEAT_S:
            state = f"not running: last seen {when(m['last_tick'])} (killed?)"
        else:
            state = f"running, last tick {now - m['last_tick']:.0f}s ago"
        lines.append(f"daemon on {m['control_host']} (pid {m['pid']}, {m['config']}): {state}")
    for j in jobs:
        reason = f"  {j['reason']}" if j.get("reason") else ""
        lines.append(f"job {j['job']:<12} {j['status']:<11} {when(j['started_at'])}{reason}")
    return "\n".join(lines[:1] + lines[len(monitors):]) if lines else ""
