"""Text for the read-only commands: graph, list, history, status. Returns strings; the CLI
prints them."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.inventory import Host
from runner.model import Playbook
from runner.plan import Plan
from runner.redact import escape_controls
from runner.report.text import ago, one_line, plural, table, timestamp

when = timestamp  # an absolute UTC time, for logs


def graph_text(plan: Plan) -> str:
    lines = [f"{one_line(plan.root.name)}: {plural(len(plan.nodes), 'step')}"]
    for node in plan.ordered():
        needs = one_line(", ".join(n.label for n in plan.needs(node.key)))
        action = node.step.kind if node.step.kind != "module" else node.step.action.module
        extra = " + recover" if node.step.recover else ""
        lines.append(f"  {one_line(node.label)} [{action}{extra}]" +
                     (f" <- {needs}" if needs else ""))
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


def host_listing(targets: Mapping[str, Sequence[Host]]) -> str:
    """`urs run --list-hosts`: the hosts each playbook would run on."""
    lines = []
    for book, hosts in targets.items():
        lines.append(f"playbook {one_line(book)}: {plural(len(hosts), 'host')}")
        lines.extend(f"  {one_line(host.name)}" for host in hosts)
    return "\n".join(lines)


def step_listing(plan: Plan, tags: frozenset[str], skip_tags: frozenset[str]) -> str:
    """`urs run --list-steps`: the steps that would run, in order, with their tags."""
    chosen = [n for n in plan.ordered()
              if not ((tags and not n.step.tags & tags) or n.step.tags & skip_tags)]
    lines = [f"{one_line(plan.root.name)}: {plural(len(chosen), 'step')}"]
    for node in chosen:
        shown = f"  [{', '.join(sorted(node.step.tags))}]" if node.step.tags else ""
        lines.append(f"  {one_line(node.label + shown)}")
    return "\n".join(lines)


GRAPH_FORMATS = {"text": graph_text, "dot": graph_dot, "mermaid": graph_mermaid}


def playbook_list(found: Mapping[str, tuple[str, Playbook | None]]) -> str:
    width = max([len(n) for n in found] + [8])
    lines = []
    for name, (origin, book) in found.items():
        about = book.description if book else "(does not load: run `urs check` on it)"
        about = " ".join(about.split())  # a description may be a YAML block of lines
        lines.append(f"{one_line(name):<{width}}  {origin:<8}  {one_line(about)}")
    return "\n".join(lines)


def log_lines(rows: Sequence[Mapping[str, Any]]) -> str:
    """Step outcomes as `urs logs` shows them: one line each, then their output's tail."""
    lines = []
    for s in rows:
        job = f" [{s['job']}]" if s.get("job") else ""
        reason = f"  {s['reason']}" if s["reason"] else ""
        lines.append(f"{when(s['ended_at'])}  {s['status']:<11} " + one_line(
            f"{s['host']}  {s['playbook']}/{s['step']}{job}{reason}"))
        output = (s.get("stdout_tail") or "") + (s.get("stderr_tail") or "")
        lines.extend(f"    | {escape_controls(line)}"
                     for line in output.rstrip().splitlines()[-5:] if line.strip())
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
        lines.append(one_line(f"daemon on {m['control_host']} (pid {m['pid']}, {m['config']}): "
                              f"{state}"))
    lines = lines[:1]  # the latest daemon
    if jobs:
        rows = [(j["job"], j["status"], ago(j["started_at"], now), j.get("reason") or "")
                for j in jobs]
        lines += table(("JOB", "STATUS", "STARTED", "REASON"), rows)
    return "\n".join([*lines, ""]) if lines else ""  # a blank line before the steps' table


def incidents(rows: Sequence[Mapping[str, Any]], failing: Sequence[Mapping[str, Any]],
              everything: bool) -> str:
    """Incidents as `urs incidents` shows them, then the channels that are failing."""
    lines = [] if rows else [f"no {'' if everything else 'open '}incidents"]
    for i in rows:
        state = i["state"] if i["state"] != "resolved" else f"resolved {when(i['resolved_at'])}"
        acked = ", acknowledged" if i.get("acked_at") else ""
        lines.append(f"#{i['id']:<4} {state}{acked}  " + one_line(
            f"{i['playbook']}/{i['step']} on {i['host']}") +
            f"  since {when(i['opened_at'])}, {i['failures']} failures")
        lines.append("      " + one_line(f"last: {i['last_status']}: {i['last_reason']}"))
        lines.append("      " + one_line(f"notified: {_notified(i.get('deliveries') or [])}"))
    for c in failing:
        lines.append(one_line(f"channel {shown(c['channel'])} is failing: {c['last_error']} "
                              f"({c['waiting']} waiting, last tried {when(c['at'])})"))
    return "\n".join(lines)


def _notified(deliveries: Sequence[Mapping[str, Any]]) -> str:
    if not deliveries:
        return "nobody (no channel configured)"
    parts = []
    for d in deliveries:
        parts.append(f"{d['event']} -> {shown(d['channel'])} {_delivery_state(d)}")
    return "; ".join(parts)


def _delivery_state(d: Mapping[str, Any]) -> str:
    if d.get("delivered_at"):
        return "delivered"
    if d.get("dropped_at"):
        return str(d.get("dropped_reason") or "dropped")
    tries = f"{d.get('attempts', 0)} tries"
    return f"pending ({tries}, {d['error']})" if d.get("error") else f"pending ({tries})"


def stale(late: Sequence[Mapping[str, Any]], as_json: bool) -> str:
    if as_json:
        return "\n".join(json.dumps(row) for row in late)
    if not late:
        return "no stale jobs: every job ran within twice its interval"
    return "\n".join(f"stale: job {one_line(row['job'])}: last run "
                     f"{when(row['last_run']) if row['last_run'] else 'never'}, expected "
                     f"within {row['limit_s']:g}s" for row in late)


def shown(channel: str) -> str:
    """A channel as it may be shown: its URL without passwords and tokens."""
    from runner.notify.channels import display

    return display(channel)
