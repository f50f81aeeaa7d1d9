"""`urs config`: every effective setting with its origin, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

from runner.config.model import Config
from runner.config.settings import JOB_FIELDS, SECTIONS, field_for, format_duration
from runner.fields import parse_duration


def ordered_keys(config: Config) -> list[str]:
    """Settings in the order of the file `urs init` writes."""
    keys = ["store", *(f"{s}.{k}" for s, fields in SECTIONS.items() for k in fields)]
    keys += [s for s, fields in SECTIONS.items() if not fields]  # reserved sections
    for job in config.jobs:
        prefix = f"jobs.{job.name}."
        keys += [prefix + k for k in JOB_FIELDS]
        keys += sorted(k for k in config.values if k.startswith(prefix + "vars."))
        keys.append(prefix + "check_mode")
    return [k for k in keys if k in config.values]


def text_value(key: str, value: Any) -> str:
    field = field_for(key)
    if field is not None and field.kind == "duration":
        seconds = parse_duration(value)
        return format_duration(seconds) if seconds is not None else str(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def as_text(config: Config) -> str:
    keys = ordered_keys(config)
    origins = [str(config.origin(k)) for k in keys]
    width = max((len(o) for o in origins), default=0)
    lines = [f"{o:<{width}}  {k}={text_value(k, config.values[k].value)}"
             for o, k in zip(origins, keys, strict=True)]
    return "\n".join(lines)


def as_json(config: Config, notices: list[str]) -> str:
    settings = {k: {"value": config.values[k].value, "origin": str(config.origin(k))}
                for k in ordered_keys(config)}
    return json.dumps({"file": str(config.path) if config.path else None,
                       "root": str(config.root), "settings": settings,
                       "sections": config.sections, "notices": notices},
                      indent=2, default=str)
