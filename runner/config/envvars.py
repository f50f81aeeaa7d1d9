"""Settings from the environment: the URS_* names and the original system's names.

Text becomes the setting's kind (true/false, numbers, durations, comma lists, JSON); a value
that does not fit is a problem naming the variable, the setting and the expected form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from runner.config.model import Origin, Sourced
from runner.config.settings import (
    ALIASES,
    JOB_FIELDS,
    LEGACY,
    SECTIONS,
    STORE,
    env_name,
    field_for,
    normalise,
)
from runner.errors import Problem, describe, did_you_mean
from runner.fields import Field, parse_duration

Layer = dict[str, Sourced]
_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}
_MS = "a number of milliseconds (30000) or a duration like 30s or 1m"


def parse_text(field: Field, text: str, milliseconds: bool = False) -> tuple[Any, str | None]:
    """The value of `text` as the field's kind, and what was expected when it does not fit."""
    value: Any = text.strip()
    if field.kind == "bool":
        value = _BOOLS.get(value.lower(), value)
    elif field.kind in {"int", "number"}:
        value = _number(value, field.kind)
    elif field.kind == "duration" and milliseconds:
        return _milliseconds(value)
    elif field.kind in {"names", "mapping"}:
        value = _structured(value, field.kind)
    expected = field.check(value)
    return value, expected


def _number(text: str, kind: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if kind == "int" and number.is_integer() else number


def _milliseconds(text: str) -> tuple[Any, str | None]:
    try:
        seconds = float(text) / 1000
    except ValueError:
        seconds = parse_duration(text)  # type: ignore[assignment]
    if seconds is None or seconds <= 0:
        return text, _MS
    return seconds, None


def _structured(text: str, kind: str) -> Any:
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind == "names":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


class EnvReader:
    """Reads variables into a layer of settings, collecting problems and notices."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.layer: Layer = {}
        self.problems: list[Problem] = []
        self.notices: list[str] = []
        self.used: set[str] = set()

    def read(self, name: str, key: str, field: Field, milliseconds: bool = False) -> None:
        if not self.env.get(name, "").strip() or key in self.layer:
            return  # unset or empty: as if not there
        self.used.add(name)
        text = self.env[name]
        value, expected = parse_text(field, str(normalise(key, text)), milliseconds)
        if expected:
            self.problems.append(Problem(f"env {name}", None, key, expected,
                                         describe(text.strip())))
        else:
            self.layer[key] = Sourced(value, Origin("env", name))


def legacy_layer(env: Mapping[str, str], systems: Mapping[str, str | None]) -> EnvReader:
    """The original system's variables; `systems` maps each job to its system."""
    reader = EnvReader(env)
    for legacy in LEGACY:
        if legacy.system is None:
            reader.read(legacy.name, legacy.key, _field(legacy.key))
            continue
        jobs = [job for job, system in systems.items() if system == legacy.system]
        if env.get(legacy.name, "").strip() and not jobs:
            reader.notices.append(f"{legacy.name} is set but no job has system "
                                  f"{legacy.system}: ignored")
        for job in jobs:
            key = legacy.key.replace("*", job, 1)
            reader.read(legacy.name, key, legacy.field or _field(key), legacy.milliseconds)
    return reader


def urs_layer(env: Mapping[str, str], jobs: Iterable[str]) -> EnvReader:
    """URS_STORE, URS_LOG_LEVEL, URS_JOB_<NAME>_<FIELD>, ...: one name per setting."""
    reader = EnvReader(env)
    for name, key in ALIASES.items():
        reader.read(name, key, _field(key))
    reader.read(env_name("store"), "store", STORE)
    for section, fields in SECTIONS.items():
        for key, field in fields.items():
            reader.read(env_name(f"{section}.{key}"), f"{section}.{key}", field)
    for job in jobs:
        for key, field in JOB_FIELDS.items():
            reader.read(env_name(f"jobs.{job}.{key}"), f"jobs.{job}.{key}", field)
    _unknown_job_names(reader, jobs)
    return reader


def _unknown_job_names(reader: EnvReader, jobs: Iterable[str]) -> None:
    known = [env_name(f"jobs.{job}.{key}") for job in jobs for key in JOB_FIELDS]
    for name in sorted(reader.env):
        if name.startswith("URS_JOB_") and name not in reader.used:
            hint = did_you_mean(name, known)
            reader.notices.append(f"{name}: no job has this setting: ignored"
                                  + (f" ({hint})" if hint else ""))


def expand_vars(layer: Layer) -> Layer:
    """URS_JOB_<NAME>_VARS (a JSON object) as one setting per variable, like the file's."""
    expanded: Layer = {}
    for key, sourced in layer.items():
        if key.endswith(".vars") and key.startswith("jobs."):
            for name, value in sourced.value.items():
                expanded[f"{key}.{name}"] = Sourced(value, sourced.origin)
        else:
            expanded[key] = sourced
    return expanded


def _field(key: str) -> Field:
    field = field_for(key)
    if field is None:  # a bug in the LEGACY table, not the user's input
        raise KeyError(key)
    return field
