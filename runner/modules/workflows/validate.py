"""Is a workflow file valid? YAML syntax, SchemaStore's github-workflow schema, then what a
schema cannot see: `needs` naming missing jobs or forming a cycle, `${{ }}` expressions,
cron in `schedule`, `workflow_dispatch` input types, a step with both `uses` and `run`.

The schema is the one `check-jsonschema` vendors from SchemaStore (its file is read without
importing that package); no rule of it is written here by hand.
"""

from __future__ import annotations

import difflib
import functools
import graphlib
import hashlib
import importlib.util
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as FsPath
from typing import Any

from runner.modules.workflows import schema_cache
from runner.modules.workflows.expressions import check_expressions
from runner.modules.workflows.parse import Parsed, parse

INPUT_TYPES = ("boolean", "choice", "environment", "number", "string")
MAX_MESSAGE = 160


def schema_path() -> FsPath:
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        raise RuntimeError("check-jsonschema is not installed (it ships the workflow schema)")
    return FsPath(spec.origin).parent / "builtin_schemas" / "vendor" / "github-workflows.json"


@functools.cache
def _quick() -> Callable[[Any], Any] | None:
    """A yes/no check of the same schema, fast: fastjsonschema's code for it, generated once
    and kept in the user's cache folder as a module (generating it costs ~0.4 s; running it
    ~0.2 ms a file, against ~2 ms for jsonschema, which then explains only the files that
    fail)."""
    import fastjsonschema

    text = schema_path().read_bytes()
    name = f"github-workflow-{hashlib.sha256(text).hexdigest()[:16]}-{fastjsonschema.VERSION}"
    check = schema_cache.load(name)
    if check is None:
        code = fastjsonschema.compile_to_code(json.loads(text))
        entry = re.search(r"^def (\w+)\(", code, re.M)  # the schema's own function comes first
        check = schema_cache.store(name, entry.group(1), code) if entry else None
    return check


def _schema_valid(data: Any) -> bool:
    import fastjsonschema

    check = _quick()
    if check is None:
        return False
    try:
        check(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path().read_text())
    return jsonschema.Draft7Validator(schema)


def validate(name: str, text: str) -> Parsed:
    """The file parsed, with every problem found in it."""
    parsed = parse(name, text)
    if parsed.findings or parsed.data is None:
        return parsed
    if not isinstance(parsed.data, dict):
        parsed.add((), f"expected a mapping (on:, jobs:), found {type(parsed.data).__name__}")
        return parsed
    probe = _semantics(parsed)
    errors = [] if _schema_valid(parsed.data) else _validator().iter_errors(parsed.data)
    for top in errors:
        path = tuple(top.absolute_path)
        # a schema error above a problem already named is that problem, said less clearly
        if not any(seen[:len(path)] == path for seen in probe.flagged):
            error = _deepest(top)
            parsed.add(path, "schema: " + _message(error), "schema", _key_at(parsed, error))
    parsed.findings += probe.findings
    parsed.findings.sort(key=lambda f: (f.line, f.column))
    return parsed


def _key_at(parsed: Parsed, error: Any) -> tuple[int, int] | None:
    """Where the first unexpected key is written, for "additional properties" errors."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return None
    allowed = error.schema.get("properties", {})
    extra = [k for k in error.instance if k not in allowed]
    return parsed.keys.get((*error.absolute_path, extra[0])) if extra else None


def _deepest(error: Any) -> Any:
    """The most specific of the errors under a oneOf/anyOf (jsonschema's best match)."""
    from jsonschema.exceptions import best_match

    while error.context:
        error = best_match(error.context)
    return error


def _message(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    text = f"{where}: {error.message}" if where else error.message
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _semantics(parsed: Parsed) -> Parsed:
    probe = Parsed(parsed.name, parsed.text, parsed.data, parsed.marks, parsed.keys)
    jobs = parsed.data.get("jobs")
    if isinstance(jobs, dict):
        _check_needs(probe, jobs)
        _check_steps(probe, jobs)
    _check_triggers(probe, parsed.data.get("on"))
    check_expressions(probe)
    return probe


def _needs(job: Any) -> list[str]:
    needs = job.get("needs") if isinstance(job, dict) else None
    if isinstance(needs, str):
        return [needs]
    return [n for n in needs if isinstance(n, str)] if isinstance(needs, list) else []


def _check_needs(parsed: Parsed, jobs: dict[str, Any]) -> None:
    graph = {name: _needs(job) for name, job in jobs.items()}
    for name, needs in graph.items():
        for need in needs:
            if need not in graph:
                close = difflib.get_close_matches(need, list(graph), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                parsed.add(("jobs", name, "needs"), f"job {name} needs unknown job {need}{hint}")
    cycle = _find_cycle({k: [n for n in v if n in graph] for k, v in graph.items()})
    if cycle:
        parsed.add(("jobs", cycle[0], "needs"), "needs form a cycle: " + " -> ".join(cycle))


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One cycle as a path of needs (a -> b -> a: a needs b, b needs a), or [] when there is
    none (graphlib reports each node before the ones that need it: reversed here)."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return []


def _check_steps(parsed: Parsed, jobs: dict[str, Any]) -> None:
    for name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict) and "uses" in step and "run" in step:
                parsed.add(("jobs", name, "steps", i),
                           f"job {name}, step {i + 1}: has both uses and run (one of them)")


def _check_triggers(parsed: Parsed, on: Any) -> None:
    if not isinstance(on, dict):
        return
    schedule = on.get("schedule")
    for i, entry in enumerate(schedule if isinstance(schedule, list) else []):
        cron = entry.get("cron") if isinstance(entry, dict) else None
        if isinstance(cron, str) and github_cron(cron) is None:
            parsed.add(("on", "schedule", i, "cron"),
                       f"invalid cron {cron!r} (five fields: minute hour day month weekday)")
    dispatch = on.get("workflow_dispatch")
    inputs = dispatch.get("inputs") if isinstance(dispatch, dict) else None
    for key, spec in (inputs or {}).items() if isinstance(inputs, dict) else ():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind is not None and kind not in INPUT_TYPES:
            parsed.add(("on", "workflow_dispatch", "inputs", key, "type"),
                       f"workflow_dispatch input {key} has unknown type {kind!r} "
                       f"(one of {', '.join(INPUT_TYPES)})")


_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _cron_field(atom: str, question: bool = False) -> re.Pattern[str]:
    """POSIX cron's operators (`*`, `,`, `-`, `/`) over one field's numbers or names."""
    item = rf"(?:\*|(?:{atom})(?:-(?:{atom}))?)(?:/\d+)?"
    return re.compile(rf"{item}(?:,{item})*" + (r"|\?" if question else ""), re.I)


# GitHub Actions reads `on.schedule` as POSIX cron: five fields, month and weekday names, weekday
# 0-6 (it refuses 7 for Sunday); none of the extensions cronsim also knows (L, W, #, seconds,
# @hourly). `?` is cron's `*` for the day fields, as actionlint and GitHub read it.
_GITHUB_FIELDS = (_cron_field(r"\d+"), _cron_field(r"\d+"), _cron_field(r"\d+", True),
                  _cron_field(rf"\d+|{_MONTHS}"), _cron_field(rf"0?[0-6]|{_DAYS}", True))


def github_cron(cron: str) -> str | None:
    """The schedule as cronsim reads it, or None when GitHub Actions would refuse it: its
    syntax (above), then each value within its field's range, ranges that go forward, steps
    above 0 and a day that exists in the months given (cronsim)."""
    from cronsim import CronSim, CronSimError

    fields = cron.split()
    if len(fields) != 5 or not all(p.fullmatch(f) for p, f in zip(_GITHUB_FIELDS, fields,
                                                                     strict=True)):
        return None
    expression = " ".join("*" if f == "?" else f for f in fields)
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError:
        return None
    return expression
