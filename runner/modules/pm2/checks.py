"""Read-only judgements of PM2's state: apps online and within limits, the dump saved."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from runner.fields import as_list
from runner.modules import ActionResult
from runner.modules.pm2.host import PM2Host
from runner.modules.pm2.state import App, State, dump_names

LIMITS = ("max_memory_mb", "max_cpu", "max_restarts", "max_unstable_restarts")
NOT_INSTALLED = "pm2 is not installed (not found on PATH)"


def wanted(host: PM2Host, state: State) -> list[str]:
    """The apps asked for; `all` is every registered app, or when none is, the apps PM2
    should have (`expected`)."""
    apps = host.call.args["apps"]
    if apps in ("all", ["all"]):
        return state.names() or expected(host, state)[0]
    return [str(a) for a in as_list(apps)]


def expected(host: PM2Host, state: State) -> tuple[list[str], str]:
    """The apps dump.pm2 lists, else the ecosystem file's, else the fallback's; and which file
    said so. An empty process list is only healthy when none of them names an app."""
    dump = f"{state.home}/dump.pm2"
    names = dump_names(host.read(shlex.quote(dump)) or "")
    if names:
        return names, dump
    for key in ("ecosystem", "fallback_ecosystem"):
        path = host.call.args.get(key)
        names = host.app_names(str(path)) if path else None
        if names:
            return names, str(path)
    return [], ""


def limit_problems(app: App, limits: Mapping[str, Any]) -> list[str]:
    checks = (("max_memory_mb", app.memory_mb, "uses {v:.0f} MB"),
              ("max_cpu", app.cpu, "uses {v:g}% CPU"),
              ("max_restarts", app.restarts, "restarted {v} times"),
              ("max_unstable_restarts", app.unstable_restarts, "had {v} unstable restarts"))
    return [f"app {app.name} " + text.format(v=value) + f", limit {limits[key]}"
            for key, value, text in checks
            if limits.get(key) is not None and value > float(limits[key])]


def check_online(host: PM2Host, state: State) -> ActionResult:
    if not state.alive:
        return daemon_down(state)
    call = host.call
    if not state.apps and call.args["apps"] in ("all", ["all"]):
        names, source = expected(host, state)
        if names:
            return ActionResult(False, stdout="0 apps", fields={"apps": []}, reason=(
                f"no app is registered, but {source} lists {', '.join(names)}"))
    problems = []
    per_app = call.args.get("limits") or {}
    for name in wanted(host, state):
        instances = state.instances(name)
        if not instances:
            problems.append(f"app {name} is not registered")
        limits = {k: call.args.get(k) for k in LIMITS} | dict(per_app.get(name) or {})
        for app in instances:
            which = name if len(instances) == 1 else f"{name} (pm_id {app.pm_id})"
            if not app.online:
                problems.append(f"app {which} is {app.status}")
            else:
                problems += limit_problems(app, limits)
    text = f"{len(state.apps)} apps: " + ", ".join(f"{a.name} {a.status}" for a in state.apps)
    return ActionResult(not problems, stdout=text, reason="; ".join(problems),
                        fields={"apps": [a.summary() for a in state.apps]})


def daemon_down(state: State) -> ActionResult:
    if not state.installed:
        return ActionResult(False, reason=NOT_INSTALLED)
    why = f"{state.problem}; " if state.problem else f"pid {state.daemon_pid}, "
    return ActionResult(False, reason=f"the PM2 daemon is not running ({why}PM2_HOME {state.home})",
                        fields={"apps": []})


def check_saved(host: PM2Host, state: State) -> ActionResult:
    if not state.alive:
        return daemon_down(state)
    names = dump_names(host.read(f"{shlex.quote(state.home)}/dump.pm2") or "") or []
    missing = [a.name for a in state.apps if a.name not in names]
    reason = f"dump.pm2 lacks {', '.join(missing)}" if missing else ""
    return ActionResult(not missing, stdout=f"dump.pm2 lists {len(names)} apps", reason=reason)
