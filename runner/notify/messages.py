"""What a notification says: a title and a body rendered from Jinja2 templates (the
configuration's `notifications.title` and `.body`, else the defaults here) for one message,
which carries one event of one or more incidents (those opened by one run go together).

A template sees `event`, `incidents` (each incident's payload, see `runner.notify.payload`,
with `since` and `open_for` added), `count`, `run_id`, `status_url`, and the first incident's
fields at the top level (`playbook`, `host`, `step`, `status`, `reason`, ...), so a template
for one incident reads `{{ playbook }}/{{ step }} on {{ host }}`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.notify import ESCALATED, OPENED, REMINDER, RESOLVED

TITLE = """\
[urs] {% if count > 1 %}{{ count }} incidents {{ event }}{% else %}{{ headline }}{% endif %}: \
{% for i in incidents[:3] %}{{ i.playbook }}/{{ i.step }} on {{ i.host }}\
{% if not loop.last %}, {% endif %}{% endfor %}\
{% if count > 3 %}, and {{ count - 3 }} more{% endif %}\
{% if count == 1 %} ({{ incident_note }}){% endif %}"""

BODY = """\
{%- for i in incidents[:20] %}
{{ i.playbook }}/{{ i.step }} on {{ i.host }}: {{ i.status or 'unknown' }}
{%- if i.event == 'resolved' %} after {{ i.failures }} failures in {{ i.open_for }}
{%- elif i.failures %}, {{ i.failures }} failures, open since {{ i.since }}{% endif %}
{%- if i.reason %}
  reason: {{ i.reason }}{% endif %}
{%- if i.output and i.event != 'resolved' %}
  output (last lines):
{{ i.output | trim | indent(4, first=true) }}{% endif %}
{%- if i.incident %}
  run: {{ i.run_id or 'none' }} · incident #{{ i.incident }}
{%- if i.event != 'resolved' %} (urs ack {{ i.incident }} stops reminders){% endif %}{% endif %}
{% endfor -%}
{% if count > 20 %}
... and {{ count - 20 }} more (urs incidents lists them all)
{% endif -%}
{% if status_url %}
Status: {{ status_url }}
{% endif %}"""

HEADLINES = {OPENED: "incident opened", REMINDER: "still failing", ESCALATED: "escalated",
             RESOLVED: "resolved", "test": "test message"}


@dataclass(frozen=True)
class Message:
    """One notification: an event of one or more incidents, rendered."""

    event: str
    run_id: str
    incidents: tuple[Mapping[str, Any], ...]
    title: str
    body: str

    def as_json(self) -> dict[str, Any]:
        """What a command channel reads on its standard input."""
        return {"title": self.title, "body": self.body, "event": self.event,
                "run_id": self.run_id, "incidents": list(self.incidents)}


def compose(event: str, run_id: str, payloads: Sequence[Mapping[str, Any]],
            settings: Mapping[str, Any], now: float | None = None) -> Message:
    """The message for these incidents' event (in the order of playbook, host and step), from
    the configured templates or the defaults.
    A configured template that fails falls back to the default and says why in the body."""
    context = _context(event, run_id, payloads, settings, time.time() if now is None else now)
    title, title_error = _render(settings.get("title"), TITLE, context)
    body, body_error = _render(settings.get("body"), BODY, context)
    for name, error in (("title", title_error), ("body", body_error)):
        if error:
            body += f"\n(notifications.{name} could not be rendered, the default was used: {error})"
    return Message(event, run_id, tuple(context["incidents"]), " ".join(title.split()),
                   body.strip() + "\n")


def _context(event: str, run_id: str, payloads: Sequence[Mapping[str, Any]],
             settings: Mapping[str, Any], now: float) -> dict[str, Any]:
    incidents = sorted((_described(p, now) for p in payloads),
                       key=lambda i: (str(i["playbook"]), str(i["host"]), str(i["step"])))
    first = incidents[0] if incidents else {}
    return {**first, "event": event, "run_id": run_id, "incidents": incidents,
            "count": len(incidents), "status_url": settings.get("status_url") or "",
            "headline": HEADLINES.get(event, event), "incident_note": _note(event, first)}


def _described(payload: Mapping[str, Any], now: float) -> dict[str, Any]:
    opened = float(payload.get("opened_at") or now)
    end = float(payload.get("resolved_at") or now)
    return {**payload, "since": _clock(opened), "open_for": span(end - opened)}


def _note(event: str, incident: Mapping[str, Any]) -> str:
    failures = incident.get("failures", 0)
    if event == "test":
        return "sent by urs notify test"
    if event == RESOLVED:
        return f"recovered after {failures} failures in {incident.get('open_for', '0 s')}"
    if event == OPENED:
        return f"{incident.get('status') or 'failed'}, {failures} failures"
    return f"{failures} failures, open {incident.get('open_for', '0 s')}"


def span(seconds: float) -> str:
    """14 min, 2 h 5 min, 40 s: how long, for a person."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours:.0f} h" + (f" {rest // 60:.0f} min" if rest >= 60 else "")


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _render(template: object, default: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """The rendered text and, when the configured template failed, why. Should the default
    fail too, a plain text without templates is what is sent."""
    from runner.templating import TemplateFailure, render

    error = ""
    if template:
        try:
            return str(render(str(template), context)), ""
        except TemplateFailure as exc:
            error = str(exc)
    try:
        return str(render(default, context)), error
    except TemplateFailure as exc:
        return plain(context, title=default is TITLE), error or str(exc)


def plain(context: Mapping[str, Any], title: bool) -> str:
    """A message without templates: one line per incident."""
    if title:
        return f"[urs] {context['event']}: {context['count']} incident(s)"
    return "\n".join(f"{i.get('playbook')}/{i.get('step')} on {i.get('host')}: "
                     f"{i.get('status')}: {i.get('reason')}" for i in context["incidents"])
