"""`urs init --from`: the original system's JSON configuration and environment variables as
a `urs.yml` document, with a note on each converted value and a list of what has no place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.config import envvars
from runner.config.settings import DROPPED, RESTARTS, field_for, format_duration
from runner.config.template import Document, default_document
from runner.errors import InputError, Problem, describe
from runner.fields import Field

# (section, key) of the original JSON -> the urs setting; intervals there are milliseconds
JSON_KEYS = {
    ("system", "autoRecovery"): "auto_recovery.enabled",
    ("system", "healthCheckInterval"): "jobs.health.interval",
    ("pm2", "enabled"): "jobs.pm2.enabled",
    ("pm2", "healthCheckInterval"): "jobs.pm2.interval",
    ("pm2", "maxRestartAttempts"): "jobs.pm2.vars.max_restart_attempts",
    ("pm2", "autoRecovery"): "auto_recovery.pm2",
    ("githubActions", "enabled"): "jobs.github.enabled",
    ("githubActions", "healthCheckInterval"): "jobs.github.interval",
    ("githubActions", "maxFailureThreshold"): "jobs.github.max_failures",
    ("githubActions", "autoTrigger"): "auto_recovery.github",
    ("netlifyFunctions", "enabled"): "jobs.netlify.enabled",
    ("netlifyFunctions", "healthCheckInterval"): "jobs.netlify.interval",
    ("netlifyFunctions", "maxFailureThreshold"): "jobs.netlify.max_failures",
    ("netlifyFunctions", "autoRegenerate"): "auto_recovery.netlify",
}
NOT_NEEDED = {("system", "name"), ("system", "version")}
JSON_DROPPED = {("system", "loadBalancing"): DROPPED["LOAD_BALANCING"]}


@dataclass
class Migration:
    doc: Document = field(default_factory=default_document)
    notes: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def convert(path: Path, env: Mapping[str, str]) -> Migration:
    """The document for `urs.yml`; an unreadable file or a wrong value is an InputError."""
    out = Migration()
    for (section, key), value in _read(path).items():
        where = f"{section}.{key}"
        if (section, key) in JSON_KEYS:
            _from_json(out, path.name, where, JSON_KEYS[section, key], value)
        elif (section, key) in JSON_DROPPED:
            out.dropped.append(f"{where}: {JSON_DROPPED[section, key]}")
        elif (section, key) not in NOT_NEEDED:
            out.dropped.append(f"{where}: urs has no such setting")
    _from_env(out, env)
    if out.problems:
        raise InputError(out.problems)
    return out


def _read(path: Path) -> dict[tuple[str, str], Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.one(str(path), None, "", "an existing file", "none") from None
    except (OSError, ValueError) as exc:
        raise InputError.one(str(path), None, "", "a JSON file", str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError.one(str(path), None, "", "an object of sections (system, pm2, ...)",
                             describe(data))
    return {(s, k): v for s, section in data.items() for k, v in section.items()}


def _from_json(out: Migration, name: str, where: str, key: str, value: Any) -> None:
    field = RESTARTS if key.endswith("max_restart_attempts") else field_for(key)
    if field is None:  # a bug in JSON_KEYS, not the user's input
        raise KeyError(key)
    if field.kind == "duration":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        expected = None if ok else "a number of milliseconds"
        value = value / 1000 if ok else value
    else:
        expected = field.check(value)
    if expected:
        out.problems.append(Problem(name, None, where, expected, describe(value)))
        return
    _set(out, key, value, f"from {name} {where}")


def _from_env(out: Migration, env: Mapping[str, str]) -> None:
    systems = {job: job for job in out.doc["jobs"]}
    reader = envvars.legacy_layer(env, systems)
    out.problems += reader.problems
    for key, sourced in reader.layer.items():
        _set(out, key, sourced.value, f"from env {sourced.origin.where}")
    out.dropped += [f"{name}: {why}" for name, why in DROPPED.items()
                    if env.get(name, "").strip()]


def _set(out: Migration, key: str, value: Any, note: str) -> None:
    field: Field | None = field_for(key)
    if field is not None and field.kind == "duration":
        value = format_duration(float(value))
    parts = key.split(".")
    target = out.doc
    for part in parts[:-1]:
        if target.get(part) is None:
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value
    out.notes[key] = note
