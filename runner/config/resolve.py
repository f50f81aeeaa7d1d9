"""Layers merged in precedence order (defaults, file, original variables, URS_* variables,
command line) and the result built into a `Config`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.config.envvars import Layer, parse_text
from runner.config.model import (
    DEFAULT,
    AutoRecovery,
    Config,
    Job,
    LogSettings,
    Origin,
    Sourced,
    SSHSettings,
)
from runner.config.settings import DEFAULT_JOBS, JOB_FIELDS, SECTIONS, SYSTEMS, field_for
from runner.errors import Problem, describe, did_you_mean
from runner.fields import parse_duration

SUFFIXES = (".yml", ".yaml")
_EXCLUSIVE = {"interval": "cron", "cron": "interval"}
CORE = ("log", "auto_recovery", "ssh")  # typed fields of Config; the other sections are `sections`


def default_store(env: Mapping[str, str]) -> str:
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local"
                                            / "state")
    return str(Path(base) / "urs" / "outcomes.db")


def defaults(env: Mapping[str, str], jobs: Sequence[str] | None) -> Layer:
    """Every default; the original's four jobs when the file names no jobs."""
    layer: Layer = {"store": Sourced(default_store(env), DEFAULT)}
    for section, fields in SECTIONS.items():
        if not fields:
            layer[section] = Sourced({}, DEFAULT)  # reserved for a later feature
        for key, field in fields.items():
            if field.default is not None:
                layer[f"{section}.{key}"] = Sourced(field.default, DEFAULT)
    for name in DEFAULT_JOBS if jobs is None else jobs:
        for key, field in JOB_FIELDS.items():
            if field.default is not None:
                layer[f"jobs.{name}.{key}"] = Sourced(field.default, DEFAULT)
        if name in SYSTEMS:
            layer[f"jobs.{name}.system"] = Sourced(name, DEFAULT)
        if jobs is None:
            layer.update(_flatten(f"jobs.{name}", DEFAULT_JOBS[name], DEFAULT))
    return layer


def _flatten(prefix: str, values: Mapping[str, Any], origin: Origin) -> Layer:
    layer: Layer = {}
    for key, value in values.items():
        if key == "vars" and isinstance(value, Mapping):
            layer.update(_flatten(f"{prefix}.vars", value, origin))
        else:
            layer[f"{prefix}.{key}"] = Sourced(value, origin)
    return layer


def merge(layers: Sequence[Layer]) -> dict[str, Sourced]:
    """Later layers win; setting a job's interval drops an earlier cron, and the reverse."""
    merged: dict[str, Sourced] = {}
    for layer in layers:
        for key, sourced in layer.items():
            head, _, last = key.rpartition(".")
            other = f"{head}.{_EXCLUSIVE.get(last, '')}"
            if head.startswith("jobs.") and last in _EXCLUSIVE and other not in layer:
                merged.pop(other, None)
            merged[key] = sourced
    return merged


def overrides_layer(overrides: Mapping[str, object],
                    jobs: Sequence[str]) -> tuple[Layer, list[Problem]]:
    """Command-line values by dotted key; text is read as the environment's is."""
    layer: Layer = {}
    problems = []
    for key, given in overrides.items():
        value, problem = _override(key, given, jobs)
        if problem:
            problems.append(problem)
        else:
            layer[key] = Sourced(value, Origin("command line"))
    return layer, problems


def _override(key: str, value: object, jobs: Sequence[str]) -> tuple[object, Problem | None]:
    field = field_for(key)
    parts = key.split(".")
    known_job = len(parts) >= 3 and parts[0] == "jobs" and parts[1] in jobs
    is_var = known_job and len(parts) == 4 and parts[2] == "vars"
    if (field is None and not is_var) or (parts[0] == "jobs" and not known_job):
        return value, Problem("command line", None, key, "a setting", repr(key),
                              did_you_mean(key, _known(jobs)))
    if isinstance(value, str) and field is not None:
        value, expected = parse_text(field, value)
        if expected:
            return value, Problem("command line", None, key, expected, describe(value))
    return value, None


def _known(jobs: Sequence[str]) -> list[str]:
    keys = ["store", *(f"{s}.{k}" for s, fields in SECTIONS.items() for k in fields)]
    return keys + [f"jobs.{j}.{k}" for j in jobs for k in JOB_FIELDS]


def build(merged: Mapping[str, Sourced], jobs: Sequence[str], path: Path | None, root: Path,
          sections: Mapping[str, Mapping[str, Any]], notices: Sequence[str]) -> Config:
    """The typed Config from merged settings."""
    def get(key: str, default: Any = None) -> Any:
        return merged[key].value if key in merged else default

    auto = AutoRecovery(**{k: bool(get(f"auto_recovery.{k}")) for k in SECTIONS["auto_recovery"]})
    log_file = get("log.file")
    log = LogSettings(level=get("log.level"), format=get("log.format"),
                      file=root / log_file if log_file else None,
                      rotate_mb=float(get("log.rotate_mb")),
                      rotate_keep=int(get("log.rotate_keep")))
    store = str(get("store"))
    store = store if "://" in store else str(root / Path(store).expanduser())
    values = dict(merged)
    built = tuple(_job(name, merged, auto, log.level, root) for name in jobs)
    for job in built:
        values[f"jobs.{job.name}.check_mode"] = Sourced(job.check_mode,
                                                        _check_origin(job, auto, merged))
    return Config(path=path, root=root, store=store, jobs=built, log=log, auto_recovery=auto,
                  sections=_later_sections(merged, sections),
                  values=values, notices=tuple(notices), ssh=_ssh(merged, root))


def _ssh(merged: Mapping[str, Sourced], root: Path) -> SSHSettings:
    """A relative known_hosts is under the project folder, as `store` is."""
    known_hosts = merged["ssh.known_hosts"].value if "ssh.known_hosts" in merged else None
    return SSHSettings(root / Path(known_hosts).expanduser() if known_hosts else None,
                       merged["ssh.host_key_policy"].value)


def _later_sections(merged: Mapping[str, Sourced],
                    raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """notifications, web, ...: as written while reserved, else their resolved settings."""
    later = {}
    for section, fields in SECTIONS.items():
        if section in CORE:
            continue
        later[section] = {k: merged[f"{section}.{k}"].value for k in fields
                          if f"{section}.{k}" in merged} if fields else raw.get(section, {})
    return later


def _job(name: str, merged: Mapping[str, Sourced], auto: AutoRecovery, level: str,
         root: Path) -> Job:
    prefix = f"jobs.{name}."
    values = {k[len(prefix):]: s.value for k, s in merged.items() if k.startswith(prefix)}
    variables = {k[5:]: v for k, v in values.items() if k.startswith("vars.")}
    system = values.get("system")
    names = values.get("playbooks", [])
    inventory = values.get("inventory") or []
    return Job(
        name=name, playbooks=_paths(root, names, lambda p: "/" in p or p.endswith(SUFFIXES)),
        inventory=_paths(root, inventory, lambda p: "," not in p),
        limit=values.get("limit"), vars=variables,
        interval=_seconds(values.get("interval")), cron=values.get("cron"),
        timeout=_seconds(values.get("timeout")), enabled=bool(values.get("enabled", True)),
        jitter=_seconds(values.get("jitter")) or 0.0, system=system,
        log_level=values.get("log_level") or level, max_failures=int(values.get("max_failures", 3)),
        check_mode=not auto.on_for(system), heartbeat=values.get("heartbeat") or None,
    )


def _paths(root: Path, given: str | list[str], is_path: Callable[[str], bool]) -> tuple[str, ...]:
    """Relative paths as paths under the project folder, so any working folder runs the job;
    playbook names and `h1,h2,` host lists as they are."""
    items = [given] if isinstance(given, str) else given
    return tuple(str(root / Path(p).expanduser()) if is_path(p) else p for p in items)


def _seconds(value: object) -> float | None:
    return None if value is None else parse_duration(value)


def _check_origin(job: Job, auto: AutoRecovery, merged: Mapping[str, Sourced]) -> Origin:
    """The switch that decided: the master switch when it is off, else the system's own."""
    system_key = f"auto_recovery.{job.system}"
    if auto.enabled and system_key in merged:
        return merged[system_key].origin
    return merged["auto_recovery.enabled"].origin
