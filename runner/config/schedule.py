"""`urs schedule`: the configured jobs as crontab lines, systemd units or a PM2 entry.

Each crontab line and timer runs `urs run` with the job's resolved settings (playbooks,
inventory, limit, vars as -e, --check when auto-recovery is off, the store unless it is the
default) from the project folder; `urs run` skips a run while the previous one holds the lock.
The daemon forms run `urs daemon`, which reads urs.yml itself.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.config import cron
from runner.config.model import DEFAULT, Config, Job
from runner.config.settings import format_duration

FORMATS = ("cron", "systemd", "systemd-daemon", "pm2")


def urs_command(argv0: str | None = None) -> list[str]:
    """The full path of the running urs (`python -m runner` runs as the interpreter)."""
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    if Path(argv0).name == "__main__.py":
        return [sys.executable, "-m", "runner"]
    found = argv0 if Path(argv0).is_absolute() else shutil.which(argv0)
    found = found or shutil.which("urs")
    return [str(Path(found).absolute())] if found else ["urs"]


def run_args(job: Job, config: Config) -> list[str]:
    """`urs run` arguments that run the job as configured."""
    args = ["run", *job.playbooks]
    for inventory in job.inventory:
        args += ["-i", inventory]
    if job.limit:
        args += ["-l", job.limit]
    if job.vars:
        args += ["-e", json.dumps(dict(job.vars), sort_keys=True)]
    if job.check_mode:
        args.append("--check")
    if config.origin("store") != DEFAULT:
        args += ["--store", config.store]
    return args


def _timeout(job: Job) -> list[str]:
    return ["timeout", format_duration(job.timeout)] if job.timeout else []


def cron_block(config: Config, command: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """One crontab line per job, with a comment where cron cannot say what the job says."""
    lines = []
    for job in config.jobs:
        when, why = (cron.expand(job.cron), "") if job.cron else cron.from_interval(
            job.interval or 60)
        notes = [why] if why else []
        if job.jitter:
            notes.append(f"jitter {format_duration(job.jitter)} applies under urs daemon only")
        if why:
            notes.append(f"urs daemon runs it every {format_duration(job.interval or 60)}")
        lines += [f"# {job.name}: {note}" for note in notes]
        line = f"{when} {_cron_command(job, config, command, env)}"
        lines.append(line if job.enabled else f"# disabled: {line}")
    return lines


def _cron_command(job: Job, config: Config, command: Sequence[str],
                  env: Mapping[str, str]) -> str:
    words = [*_timeout(job), *command, *run_args(job, config)]
    text = f"cd {shlex.quote(str(config.root))} && "
    if env.get("PATH"):
        text += f"PATH={shlex.quote(env['PATH'])} "
    text += shlex.join(words)
    if config.log.file:
        text += f" >> {shlex.quote(str(config.log.file))} 2>&1"
    return text.replace("%", "\\%")  # cron turns a bare % into a newline


def systemd_timers(config: Config, command: Sequence[str],
                   env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """A oneshot service and a timer per enabled job; notes for jobs left out."""
    units, notes = {}, []
    for job in config.enabled_jobs:
        if job.cron:
            calendar, why = cron.to_calendar(job.cron)
            if calendar is None:
                notes.append(f"{job.name}: cron '{job.cron}' has no systemd form: {why}")
                continue
            when = [f"OnCalendar={calendar}", "Persistent=true"]
        else:
            every = format_duration(job.interval or 60)
            when = [f"OnActiveSec={every}", f"OnUnitActiveSec={every}", "AccuracySec=1s"]
        if job.jitter:
            when.append(f"RandomizedDelaySec={format_duration(job.jitter)}")
        units[f"urs-{job.name}.service"] = _service(job, config, command, env)
        units[f"urs-{job.name}.timer"] = _timer(job, when)
    return units, notes


def _service(job: Job, config: Config, command: Sequence[str], env: Mapping[str, str]) -> str:
    words = [*command, *run_args(job, config)]
    return "\n".join([
        "[Unit]", f"Description=urs job {job.name}: {' '.join(job.playbooks)}",
        "Wants=network-online.target", "After=network-online.target", "",
        "[Service]", "Type=oneshot", f"WorkingDirectory={_quote(str(config.root))}",
        *_environment(env), f"ExecStart={' '.join(_quote(w) for w in words)}",
        f"TimeoutStartSec={format_duration(job.timeout) if job.timeout else 'infinity'}",
        "# 3: skipped, the previous run still holds the lock", "SuccessExitStatus=3", "",
    ])


def _timer(job: Job, when: Sequence[str]) -> str:
    return "\n".join([
        "[Unit]", f"Description=Run urs job {job.name}", "",
        "[Timer]", *when, f"Unit=urs-{job.name}.service", "",
        "[Install]", "WantedBy=timers.target", "",
    ])


def systemd_daemon(config: Config, command: Sequence[str], env: Mapping[str, str]) -> str:
    """One long-running service: `urs daemon` runs every job on its schedule."""
    words = [*command, *daemon_args(config)]
    return "\n".join([
        "[Unit]", "Description=urs daemon: health checks and recovery on schedule",
        "Wants=network-online.target", "After=network-online.target", "",
        "[Service]", "Type=simple", f"WorkingDirectory={_quote(str(config.root))}",
        *_environment(env), f"ExecStart={' '.join(_quote(w) for w in words)}",
        "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM", "TimeoutStopSec=60s",
        "Restart=on-failure", "RestartSec=5s", "",
        "[Install]", "WantedBy=multi-user.target", "",
    ])


def daemon_args(config: Config) -> list[str]:
    return ["daemon", *(["--config", str(config.path)] if config.path else [])]


def pm2_ecosystem(config: Config, command: Sequence[str], env: Mapping[str, str]) -> str:
    """A PM2 ecosystem file whose one app is `urs daemon` (SIGTERM stops it cleanly)."""
    app = {
        "name": "urs-daemon", "script": command[0],
        "args": [*command[1:], *daemon_args(config)], "cwd": str(config.root),
        "interpreter": "none", "autorestart": True, "kill_timeout": 60000,
        "env": {"PATH": env["PATH"]} if env.get("PATH") else {},
    }
    body = json.dumps({"apps": [app]}, indent=2)
    return ("// urs daemon under PM2: pm2 start <this file>, then pm2 save\n"
            f"module.exports = {body};\n")


def _environment(env: Mapping[str, str]) -> list[str]:
    return [f"Environment={_quote('PATH=' + env['PATH'])}"] if env.get("PATH") else []


def _quote(word: str) -> str:
    """One word of a systemd command line or setting: specifiers and variables escaped."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and all(c.isalnum() or c in "/._-=:,+@" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
