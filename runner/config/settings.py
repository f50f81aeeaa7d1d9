"""Every setting of `urs.yml`: its kind, default, documentation and environment variables.

This table drives validation, the environment, `urs init`'s commented file, `urs config` and
the reference in docs/configuration.md. A later feature adds a setting to its section here
(`"listen": Field("str", "...", default="127.0.0.1:8080")` under "web") and the setting is
validated, read from `URS_WEB_LISTEN`, written by `urs init` and shown by `urs config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.connections import HOST_KEY_POLICIES
from runner.fields import Field, Fields

LEVELS = ("debug", "info", "warning", "error")
SYSTEMS = ("pm2", "github", "netlify", "health")
CONFIG_NAMES = ("urs.yml", "urs.yaml")

STORE = Field("str", "the outcome store: a SQLite file (relative to this file) or a database "
              "URL (default: $XDG_STATE_HOME/urs/outcomes.db)")

# A section whose field table is empty is reserved for a later feature: it must be a mapping
# and is kept as written (Config.sections); once it has fields, its keys are checked.
SECTIONS: dict[str, Fields] = {
    "log": {
        "level": Field("str", "the lowest level logged", choices=LEVELS, default="info"),
        "format": Field("str", "text lines or JSON lines", choices=("text", "json"),
                        default="text"),
        "file": Field("str", "append the log here (relative to this file); none: standard "
                      "output"),
        "rotate_mb": Field("number", "rotate the log file at this many megabytes; 0: never",
                           minimum=0, default=10),
        "rotate_keep": Field("int", "rotated log files kept", minimum=0, default=5),
    },
    "auto_recovery": {
        "enabled": Field("bool", "the master switch: false makes every job run as --check "
                         "(report what it would recover)", default=True),
        "pm2": Field("bool", "recover PM2 (jobs with system pm2)", default=True),
        "github": Field("bool", "restore and re-run GitHub Actions workflows (system github)",
                        default=True),
        "netlify": Field("bool", "regenerate and restore Netlify Functions (system netlify)",
                         default=True),
    },
    "ssh": {
        "known_hosts": Field("str", "the known_hosts file SSH host keys are checked against "
                             "(relative to this file; default: ~/.ssh/known_hosts)"),
        "host_key_policy": Field("str", "an SSH host key not in known_hosts: strict refuses "
                                 "it, accept-new adds it to known_hosts, off checks no key "
                                 "at all; a changed key is refused unless off",
                                 choices=HOST_KEY_POLICIES, default="strict"),
    },
    "notifications": {
        "channels": Field("names", "where incidents are announced: Apprise URLs (json://, "
                          "mailto://, slack://, ntfy://, ...) or 'command:<shell command>' (the "
                          "incident as JSON on stdin)", default=[]),
        "escalate_to": Field("names", "a second set of channels for escalations", default=[]),
        "title": Field("str", "the message title, a Jinja2 template (default: event, playbook, "
                       "step and host)"),
        "body": Field("str", "the message body, a Jinja2 template (default: each incident's "
                      "status, reason, output tail and run)"),
        "status_url": Field("str", "the status page, linked from messages"),
        "timeout": Field("duration", "the longest one delivery may take", minimum=0.001,
                         default="10s"),
    },
    "web": {},
    "escalation": {
        "max_failures": Field("int", "consecutive failing outcomes of a step on a host before "
                              "an incident opens (a job's max_failures wins for its runs)",
                              minimum=1, default=3),
        "thresholds": Field("mapping", "max_failures per playbook or playbook/step: "
                            "{recover-pm2: 5, health-system/disk-space: 1}", default={}),
        "escalate_after_failures": Field("int", "escalate after this many more failures while "
                                         "open; 0: never", minimum=0, default=3),
        "escalate_after": Field("duration", "escalate after the incident is open this long; "
                                "0s: never", default="30m"),
        "remind_every": Field("duration", "remind while open and not acknowledged; 0s: never",
                              default="0s"),
        "max_recoveries": Field("int", "the flap guard: recoveries of a step on a host within "
                                "recovery_window before it is quarantined", minimum=1, default=5),
        "recovery_window": Field("duration", "the flap guard's window", minimum=1,
                                 default="1h"),
        "quarantine": Field("duration", "how long a quarantine lasts unless `urs release` "
                            "lifts it first", minimum=1, default="1h"),
    },
    "cluster": {},
}

JOB_FIELDS: Fields = {
    "playbooks": Field("names", "the playbooks the job runs, as one graph (names or paths)",
                       required=True),
    "inventory": Field("names", "inventory files, folders or 'h1,h2,' lists (default: "
                       "localhost)"),
    "limit": Field("str", "only hosts matching this pattern (as -l)"),
    "vars": Field("mapping", "extra variables for the playbooks (as -e)"),
    "interval": Field("duration", "run every this long (30s, 5m, 1h); or cron", minimum=0.001),
    "cron": Field("str", "run on this cron schedule ('*/5 * * * *', '@hourly'); or interval"),
    "timeout": Field("duration", "stop a run that takes longer (none: no limit)",
                     minimum=0.001),
    "enabled": Field("bool", "false: the job is kept but not run", default=True),
    "jitter": Field("duration", "start each run up to this much later, at random, so jobs "
                    "spread out", default="0s"),
    "system": Field("str", "the original system whose switch (auto_recovery.<system>) and "
                    "variables (PM2_*, ...) apply; default: the job's name if it is one",
                    choices=SYSTEMS),
    "log_level": Field("str", "this job's log level (default: log.level)", choices=LEVELS),
    "max_failures": Field("int", "consecutive failures before an incident opens (escalation)",
                          minimum=1, default=3),
    "heartbeat": Field("str", "a Healthchecks.io-style ping URL: /start when a run starts, the "
                       "URL on success, /fail on failure (with ?rid=<run id>)"),
}

DEFAULT_JOBS: dict[str, dict[str, object]] = {
    "pm2": {"playbooks": ["recover-pm2"], "interval": "30s"},
    "github": {"playbooks": ["recover-workflows"], "interval": "60s"},
    "netlify": {"playbooks": ["recover-netlify"], "interval": "2m"},
    "health": {"playbooks": ["health"], "interval": "5m"},
}


@dataclass(frozen=True)
class Legacy:
    """An environment variable of the original system and the setting it feeds."""

    name: str
    key: str  # "auto_recovery.pm2", or "jobs.*.<field>" for every job of `system`
    system: str | None = None
    milliseconds: bool = False  # a bare number is milliseconds, as in the original
    field: Field | None = None  # for a job variable: its kind


def _interval(system: str, *names: str) -> list[Legacy]:
    return [Legacy(n, "jobs.*.interval", system, milliseconds=True) for n in names]


RESTARTS = Field("int", "restarts of one PM2 app before giving up", minimum=1)

# Earlier names win over later ones for the same setting; URS_* names win over all of them.
LEGACY: list[Legacy] = [
    Legacy("REDUNDANCY_LOG_LEVEL", "log.level"),
    Legacy("AUTO_RECOVERY", "auto_recovery.enabled"),
    Legacy("PM2_AUTO_RECOVERY", "auto_recovery.pm2"),
    Legacy("GITHUB_AUTO_TRIGGER", "auto_recovery.github"),
    Legacy("NETLIFY_AUTO_REGENERATE", "auto_recovery.netlify"),
    *_interval("pm2", "PM2_CHECK_INTERVAL", "PM2_HEALTH_CHECK_INTERVAL"),
    *_interval("github", "GITHUB_CHECK_INTERVAL", "GITHUB_HEALTH_CHECK_INTERVAL"),
    *_interval("netlify", "NETLIFY_CHECK_INTERVAL", "NETLIFY_HEALTH_CHECK_INTERVAL"),
    *_interval("health", "HEALTH_CHECK_INTERVAL"),
    Legacy("PM2_REDUNDANCY_LOG_LEVEL", "jobs.*.log_level", "pm2"),
    Legacy("GITHUB_REDUNDANCY_LOG_LEVEL", "jobs.*.log_level", "github"),
    Legacy("NETLIFY_REDUNDANCY_LOG_LEVEL", "jobs.*.log_level", "netlify"),
    Legacy("PM2_MAX_RESTART_ATTEMPTS", "jobs.*.vars.max_restart_attempts", "pm2", field=RESTARTS),
    Legacy("GITHUB_MAX_FAILURES", "jobs.*.max_failures", "github"),
    Legacy("NETLIFY_MAX_FAILURES", "jobs.*.max_failures", "netlify"),
]

# Original variables with no counterpart, and why.
DROPPED = {
    "LOAD_BALANCING": "urs does not balance load; PM2 does (instances and exec_mode: cluster "
                      "in the ecosystem file)",
}

ALIASES = {"URS_AUTO_RECOVERY": "auto_recovery.enabled"}


def env_name(key: str) -> str:
    """URS_LOG_LEVEL for log.level, URS_JOB_PM2_INTERVAL for jobs.pm2.interval."""
    if key.startswith("jobs."):
        _, job, rest = key.split(".", 2)
        return f"URS_JOB_{env_word(job)}_{env_word(rest)}"
    return "URS_" + env_word(key)


def env_word(text: str) -> str:
    return text.upper().replace(".", "_").replace("-", "_")


def field_for(key: str) -> Field | None:
    """The field of a dotted setting key, or None when there is no such setting."""
    if key == "store":
        return STORE
    head, _, rest = key.partition(".")
    if head == "jobs":
        _, _, name = rest.partition(".")
        return JOB_FIELDS.get(name)
    return SECTIONS.get(head, {}).get(rest)


def normalise(key: str, value: object) -> object:
    """Levels as the original wrote them (INFO, WARN) read as urs's (info, warning)."""
    if key.endswith("level") and isinstance(value, str):
        lower = value.strip().lower()
        return "warning" if lower == "warn" else lower
    return value


def format_duration(seconds: float) -> str:
    """30 -> 30s, 120 -> 2m, 1.5 -> 1500ms: the shortest exact form."""
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds * 1000:g}ms"
