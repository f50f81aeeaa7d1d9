"""The resolved configuration: frozen values, each setting with where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where a value came from: the defaults, a file and line, a variable, an option."""

    source: str  # "default", "file", "env" or "command line"
    where: str = ""  # "urs.yml:12", "PM2_CHECK_INTERVAL", "--store"

    def __str__(self) -> str:
        if self.source == "file":
            return self.where
        return f"{self.source} {self.where}" if self.where else self.source


DEFAULT = Origin("default")


@dataclass(frozen=True)
class Sourced:
    value: Any
    origin: Origin


@dataclass(frozen=True)
class Job:
    """One scheduled job, resolved: what the daemon and `urs schedule` run."""

    name: str
    playbooks: tuple[str, ...]
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    interval: float | None = None  # seconds; exactly one of interval and cron is set
    cron: str | None = None
    timeout: float | None = None  # seconds
    enabled: bool = True
    jitter: float = 0.0  # seconds
    system: str | None = None  # pm2, github, netlify or health: which original settings apply
    log_level: str = "info"
    max_failures: int = 3  # consecutive failures before escalation opens an incident
    check_mode: bool = False  # auto-recovery is off for this job: run as --check
    heartbeat: str | None = None  # ping URL (Healthchecks.io style)


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "text"
    file: Path | None = None  # None: standard output
    rotate_mb: float = 10.0  # rotate the file at this size; 0: never (logrotate does it)
    rotate_keep: int = 5


@dataclass(frozen=True)
class AutoRecovery:
    enabled: bool = True
    pm2: bool = True
    github: bool = True
    netlify: bool = True

    def on_for(self, system: str | None) -> bool:
        """The master switch and the system's own switch must both be on."""
        return self.enabled and bool(getattr(self, system, True) if system else True)


@dataclass(frozen=True)
class SSHSettings:
    """How SSH hosts' keys are checked (as `urs run --known-hosts --host-key-policy`)."""

    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    host_key_policy: str = "strict"


@dataclass(frozen=True)
class Config:
    """The effective configuration. `values` holds every setting by dotted key with its
    origin (what `urs config` prints); the typed fields are the same values, ready to use."""

    path: Path | None  # the urs.yml read, if any
    root: Path  # the project folder: the file's folder, else the current one
    store: str  # a SQLite file path (absolute) or a database URL
    jobs: tuple[Job, ...]
    log: LogSettings
    auto_recovery: AutoRecovery
    sections: Mapping[str, Mapping[str, Any]]  # notifications, web, escalation, cluster
    values: Mapping[str, Sourced]
    notices: tuple[str, ...] = ()
    ssh: SSHSettings = SSHSettings()

    @property
    def name(self) -> str:
        """What names this configuration to people and in the store: its file, else the
        folder it applies to."""
        return str(self.path.resolve() if self.path else self.root)

    def origin(self, key: str) -> Origin:
        return self.values[key].origin

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    @property
    def enabled_jobs(self) -> tuple[Job, ...]:
        return tuple(j for j in self.jobs if j.enabled)
