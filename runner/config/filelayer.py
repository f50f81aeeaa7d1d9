"""`urs.yml` as a layer of settings: every key checked against the settings table, every
value remembered with its file and line, every problem collected in one pass."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from runner.config import cron
from runner.config.model import Origin, Sourced
from runner.config.settings import JOB_FIELDS, SECTIONS, STORE, normalise
from runner.errors import Problem, describe
from runner.fields import Field, Fields
from runner.load.schema import Collector
from runner.load.yamlfile import Node

TOP = {"store": STORE, "jobs": Field("mapping", "the scheduled jobs, by name"),
       **{name: Field("mapping", f"the {name} section") for name in SECTIONS}}
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class FileLayer:
    layer: dict[str, Sourced] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # reserved, as written
    jobs: list[str] | None = None  # None: the file has no `jobs`, the default jobs apply
    problems: list[Problem] = field(default_factory=list)


def read(data: Any, file: str) -> FileLayer:
    """Check loaded YAML (a Node, or None for an empty file) and flatten it to settings."""
    out, col = FileLayer(), Collector(file)
    if data is None:
        return out
    if not isinstance(data, Node):
        col.add(getattr(data, "line", 1), "", "a mapping of settings", describe(data))
        out.problems = col.problems
        return out
    col.fields(data, TOP, "", set())
    if isinstance(data.get("store"), str):
        out.layer["store"] = _at(data["store"], file, data.line_of("store"))
    for name, fields in SECTIONS.items():
        if isinstance(data.get(name), Node):
            _section(col, out, data, name, fields)
    if isinstance(data.get("jobs"), Node):
        out.jobs = [job for job in data["jobs"] if _job(col, out, data["jobs"], job)]
    out.problems = col.problems
    return out


def _at(value: Any, file: str, line: int) -> Sourced:
    return Sourced(value, Origin("file", f"{file}:{line}"))


def _section(col: Collector, out: FileLayer, data: Node, name: str, fields: Fields) -> None:
    node: Node = data[name]
    if not fields:  # reserved for a later feature: kept as written
        out.sections[name] = dict(node)
        out.layer[name] = _at(dict(node), col.file, data.line_of(name))
        return
    for key in node:
        node[key] = normalise(f"{name}.{key}", node[key])
    before = len(col.problems)
    col.fields(node, fields, name, set())
    bad = {p.field for p in col.problems[before:]}
    for key, value in node.items():
        if f"{name}.{key}" not in bad and value is not None:
            out.layer[f"{name}.{key}"] = _at(value, col.file, node.line_of(key))


def _job(col: Collector, out: FileLayer, jobs: Node, name: str) -> bool:
    """Check one job; add its settings; whether it is a job at all."""
    where, node = f"jobs.{name}", jobs[name]
    if not JOB_NAME.match(name):
        col.add(jobs.line_of(name), where, "a job name of letters, digits, '.', '_' and '-'",
                repr(name))
        return False
    if not isinstance(node, Node):
        col.add(jobs.line_of(name), where, "a job (a mapping with playbooks and an interval "
                "or cron)", describe(node))
        return False
    if "log_level" in node:
        node["log_level"] = normalise("log_level", node["log_level"])
    before = len(col.problems)
    col.fields(node, JOB_FIELDS, where, set())
    _schedule(col, node, where)
    _add_job(out, col.file, node, where, {p.field for p in col.problems[before:]})
    return True


def _add_job(out: FileLayer, file: str, node: Node, where: str, bad: set[str]) -> None:
    """The job's valid settings, each variable of `vars` as a setting of its own."""
    for key, value in node.items():
        if f"{where}.{key}" in bad or value is None:
            continue
        if key == "vars" and isinstance(value, Node):
            for var, item in value.items():
                out.layer[f"{where}.vars.{var}"] = _at(item, file, value.line_of(var))
        else:
            out.layer[f"{where}.{key}"] = _at(value, file, node.line_of(key))


def _schedule(col: Collector, node: Node, where: str) -> None:
    if "interval" in node and "cron" in node:
        col.add(node.line_of("cron"), f"{where}.cron", "either interval or cron, not both",
                "both")
    elif "interval" not in node and "cron" not in node:
        col.add(node.line, where, "an interval or a cron schedule", "neither")
    expression = node.get("cron")
    if isinstance(expression, str) and (wrong := cron.problem(expression)):
        col.add(node.line_of("cron"), f"{where}.cron", "a cron expression like '*/5 * * * *' "
                "or '@hourly'", f"{expression!r} ({wrong})")
