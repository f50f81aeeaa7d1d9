"""`urs init`: `urs.yml` with every setting, its default or converted value and a comment.

A document is plain nested data (store, the sections, jobs by name); `notes` add a comment to
a dotted key ("from ultimate-redundancy-config.json pm2.healthCheckInterval")."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import yaml

from runner.config.settings import DEFAULT_JOBS, JOB_FIELDS, SECTIONS, STORE, SYSTEMS
from runner.fields import Field

HEADER = """\
# urs.yml: the configuration of urs (docs/configuration.md has every setting).
# Precedence, highest first: the command line, URS_* environment variables, the original
# system's variables (PM2_CHECK_INTERVAL, AUTO_RECOVERY, ...), this file, the defaults.
# `urs config` shows the effective value of each setting and where it came from.
"""
EXAMPLES = {"store": "outcomes.db", "log.file": "urs.log", "inventory": "inventory/hosts.ini",
            "limit": "web*", "cron": "*/5 * * * *", "interval": "5m", "timeout": "10m",
            "log_level": "debug", "vars": {"name": "value"}, "known_hosts": "known_hosts"}
Document = dict[str, Any]
# recover-pm2 reads max_restart_attempts from the inventory too: a job's vars (-e) would hide it
VARS_EXAMPLES = {"pm2": {"max_restart_attempts": 3}}
ABOUT = {
    "pm2": "PM2 (the original's PM2_CHECK_INTERVAL): restart errored apps, resurrect the daemon",
    "github": "GitHub Actions: restore broken workflow files, re-run or dispatch backups",
    "netlify": "Netlify Functions: regenerate a stale manifest, restore it from its backup",
    "health": "every health playbook, as one graph (the original's HEALTH_CHECK_INTERVAL)",
}


def default_document() -> Document:
    doc: Document = {"store": None}
    for section, fields in SECTIONS.items():
        doc[section] = {k: f.default for k, f in fields.items()}
    doc["jobs"] = {name: default_job(name, job) for name, job in DEFAULT_JOBS.items()}
    return doc


def default_job(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    job = {k: f.default for k, f in JOB_FIELDS.items()}
    job.update(values)
    job["system"] = name if name in SYSTEMS else None
    return job


def render(doc: Document, notes: Mapping[str, str] | None = None) -> str:
    notes = notes or {}
    lines = HEADER.splitlines()
    lines += ["", *_setting("store", doc.get("store"), STORE, notes, 0)]
    for section, fields in SECTIONS.items():
        lines.append("")
        if not fields:
            lines += [f"# {section}: reserved for a later feature; kept as written.",
                      f"{section}: {_scalar(doc.get(section) or {})}"]
            continue
        lines.append(f"{section}:")
        for key, field in fields.items():
            lines += _setting(f"{section}.{key}", doc[section].get(key), field, notes, 1)
    lines += ["", "# The jobs `urs daemon` runs and `urs schedule` turns into crontab lines or "
              "timers.", "jobs:"]
    for name, job in doc["jobs"].items():
        lines += [f"  # {ABOUT.get(name, 'the job ' + name)}", f"  {name}:",
                  *_job(name, job, notes)]
    return "\n".join(lines) + "\n"


def _job(name: str, job: Mapping[str, Any], notes: Mapping[str, str]) -> list[str]:
    """A job's settings; an unset one commented out with an example of its form."""
    lines = []
    for key, field in JOB_FIELDS.items():
        value = job.get(key)
        if key == "vars" and value:
            lines += [f"    # {field.doc}", "    vars:"]
            lines += [f"      {k}: {_scalar(v)}" + _note(notes, f"jobs.{name}.vars.{k}")
                      for k, v in value.items()]
        else:
            example = VARS_EXAMPLES.get(name) if key == "vars" else None
            lines += _setting(f"jobs.{name}.{key}", value, field, notes, 2, key, example)
    return lines


def _setting(key: str, value: Any, field: Field, notes: Mapping[str, str], depth: int,
             example_key: str | None = None, example: Any = None) -> list[str]:
    indent = "  " * depth
    doc = field.doc + (" (one of: " + ", ".join(field.choices) + ")" if field.choices else "")
    comment = textwrap.wrap(doc, 100, initial_indent=indent + "# ",
                            subsequent_indent=indent + "#   ")
    name = key.rsplit(".", 1)[-1]
    if value is None:
        example = example or EXAMPLES.get(example_key or key) or EXAMPLES.get(name, "...")
        return [*comment, f"{indent}# {name}: {_scalar(example)}"]
    return [*comment, f"{indent}{name}: {_scalar(value)}" + _note(notes, key)]


def _note(notes: Mapping[str, str], key: str) -> str:
    return f"  # {notes[key]}" if key in notes else ""


def _scalar(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
