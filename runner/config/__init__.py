"""Configuration: `urs.yml`, the environment and the command line, resolved into a `Config`.

    config = runner.config.load(Path.cwd(), os.environ, {"store": "/tmp/x.db"})

Precedence, highest first: the command line (`overrides`, by dotted key), URS_* variables, the
original system's variables (PM2_CHECK_INTERVAL, AUTO_RECOVERY, ...), the file, the defaults.
Every problem of every source is reported at once as an InputError naming where it came from.
A job naming a playbook that is not installed is a notice, not an error: the run reports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config.settings import CONFIG_NAMES, DEFAULT_JOBS, DROPPED
from runner.errors import InputError, Problem

if TYPE_CHECKING:
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

__all__ = [
    "DEFAULT", "AutoRecovery", "Config", "Job", "LogSettings", "Origin", "SSHSettings", "Sourced",
    "find", "load",
]


def __getattr__(name: str) -> Any:
    """The model's names, imported when first used: `find` alone (every plain `urs run` asks
    whether there is a urs.yml) does not pay for them."""
    if name in __all__ and name not in ("find", "load"):
        from runner.config import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def find(cwd: Path, env: Mapping[str, str], explicit: Path | None = None) -> Path | None:
    """--config, else $URS_CONFIG, else urs.yml in `cwd` or the nearest parent; None if none."""
    for given, where in ((explicit, "--config"), (env.get("URS_CONFIG"), "env URS_CONFIG")):
        if given:
            path = cwd / Path(given).expanduser()
            if not path.is_file():
                raise InputError.one(where, None, "", "an existing configuration file",
                                     f"'{given}'")
            return path
    for folder in (cwd, *cwd.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load(cwd: Path, env: Mapping[str, str], overrides: Mapping[str, object] | None = None,
         path: Path | None = None) -> Config:
    """The effective configuration for a command started in `cwd` with `env`."""
    from runner.config import envvars, filelayer, resolve

    file = find(cwd, env, path)
    display = _display(file, cwd)
    read = filelayer.read(_read_yaml(file, display) if file else None, display)
    jobs = list(DEFAULT_JOBS) if read.jobs is None else read.jobs
    base = resolve.merge([resolve.defaults(env, read.jobs), read.layer])
    systems = {job: _value(base, f"jobs.{job}.system") for job in jobs}
    legacy = envvars.legacy_layer(env, systems)
    urs_env = envvars.urs_layer(env, jobs)
    over, over_problems = resolve.overrides_layer(overrides or {}, jobs)
    merged = resolve.merge([base, legacy.layer, *map(envvars.expand_vars, (urs_env.layer, over))])
    problems = [*read.problems, *legacy.problems, *urs_env.problems, *over_problems]
    problems += _check_schedules(merged, jobs) if not problems else []
    if problems:
        raise InputError(problems)
    root = file.parent if file else cwd
    notices = [*legacy.notices, *urs_env.notices, *_dropped(env)]
    return resolve.build(merged, jobs, file, root, read.sections, notices)


def _read_yaml(file: Path, display: str) -> object:
    """The file's YAML; its problems name it as every other problem does."""
    from runner.load import yamlfile

    try:
        return yamlfile.read(file)
    except InputError as exc:
        raise InputError([replace(p, file=display) for p in exc.problems]) from None


def missing_playbooks(config: Config) -> list[str]:
    """Notices for playbooks the jobs name that are not installed (yet): not errors."""
    from runner import load as playbooks

    dirs = playbooks.search_dirs(config.root)
    return [f"jobs.{job.name}.playbooks: '{ref}' is not installed: its runs will say so"
            for job in config.jobs for ref in job.playbooks
            if playbooks.find(ref, dirs, near=config.root) is None]


def _value(layer: Mapping[str, Sourced], key: str) -> str | None:
    return layer[key].value if key in layer else None


def _display(file: Path | None, cwd: Path) -> str:
    if file is None:
        return ""
    try:
        return os.path.relpath(file, cwd) if file.is_relative_to(cwd) else str(file)
    except ValueError:
        return str(file)


def _dropped(env: Mapping[str, str]) -> list[str]:
    return [f"{name} is not used by urs: {why}" for name, why in DROPPED.items()
            if env.get(name, "").strip()]


def _check_schedules(merged: Mapping[str, Sourced], jobs: list[str]) -> list[Problem]:
    """Each job runs on exactly one valid schedule, whichever sources set it."""
    from runner.config import cron

    problems = []
    for job in jobs:
        both = [merged[k] for k in (f"jobs.{job}.interval", f"jobs.{job}.cron") if k in merged]
        if len(both) == 2:
            problems.append(Problem(str(both[1].origin), None, f"jobs.{job}.cron",
                                    "either interval or cron, not both",
                                    f"interval from {both[0].origin} too"))
        expression = _value(merged, f"jobs.{job}.cron")
        if expression and (wrong := cron.problem(expression)):
            origin = str(merged[f"jobs.{job}.cron"].origin)
            problems.append(Problem(origin, None, f"jobs.{job}.cron", "a cron expression",
                                    f"{expression!r} ({wrong})"))
    return problems
