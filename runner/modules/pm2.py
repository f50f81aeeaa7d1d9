"""`pm2`: PM2 installed, its daemon alive, apps online and within limits, the process list
saved. In check mode each `state` is only read; in apply mode it is brought about and verified:

- `present`: the pm2 binary is on the host (apply cannot install it: same as check);
- `alive`: the daemon's pid (pm2.pid) runs; apply resurrects it from a usable dump, else
  starts the ecosystem file, else the fallback one;
- `online`: each app (or `apps`) online and within limits; apply revives the daemon if
  needed and restarts only the apps that are down;
- `saved`: dump.pm2 lists every registered app; apply backs up the dump and runs `pm2 save`.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from typing import Any

from runner.fields import Field, Fields, as_list, parse_duration
from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.pm2state import App, PM2Error, State, dump_names, parse_probe, probe_script

LIMITS = ("max_memory_mb", "max_cpu", "max_restarts", "max_unstable_restarts")
POLL_S = 0.3
NOT_INSTALLED = "pm2 is not installed (not found on PATH)"


class PM2Host:
    """pm2 on one host, through the step's connection, with PM2_HOME as the host has it."""

    def __init__(self, call: ModuleCall) -> None:
        self.call = call
        self.bin = str(call.args["pm2_bin"])
        home = call.args.get("pm2_home")
        self.home = str(home) if home else None
        self.settle = parse_duration(call.args["settle"]) or 0.0

    def sh(self, script: str) -> ActionResult:
        prefix = f"export PM2_HOME={shlex.quote(self.home)}; " if self.home else ""
        return self.call.sh(prefix + script)

    def pm2(self, *words: str) -> ActionResult:
        return self.sh(" ".join([shlex.quote(self.bin), *map(shlex.quote, words)]))

    def state(self) -> State:
        res = self.call.sh(probe_script(self.bin, self.home))
        if not res.ok:
            raise PM2Error(res.reason or res.stderr.strip())
        return parse_probe(res.stdout)

    def read(self, path: str) -> str | None:
        res = self.sh(f"cat {path} 2>/dev/null")
        return res.stdout if res.ok else None

    def exists(self, path: str) -> bool:
        return self.sh(f"test -f {shlex.quote(path)}").ok

    def stable(self, names: list[str], timeout: float) -> tuple[bool, State]:
        """Wait until every named app is online and its restart count holds for `settle`."""
        deadline = time.monotonic() + timeout
        seen: dict[int, int] | None = None
        since = 0.0
        while True:
            state = self.state()
            apps = [a for n in names for a in state.instances(n)]
            counts = {a.pm_id: a.restarts for a in apps if a.online}
            if len(counts) != len(apps) or not all(state.instances(n) for n in names):
                seen = None
            elif counts != seen:
                seen, since = counts, time.monotonic()
            elif time.monotonic() - since >= self.settle:
                return True, state
            if time.monotonic() >= deadline:
                return False, state
            time.sleep(POLL_S)


def wanted(call: ModuleCall, state: State) -> list[str]:
    apps = call.args["apps"]
    if apps in ("all", ["all"]):
        return state.names()
    return [str(a) for a in as_list(apps)]


def limit_problems(app: App, limits: Mapping[str, Any]) -> list[str]:
    checks = (("max_memory_mb", app.memory_mb, "uses {v:.0f} MB"),
              ("max_cpu", app.cpu, "uses {v:g}% CPU"),
              ("max_restarts", app.restarts, "restarted {v} times"),
              ("max_unstable_restarts", app.unstable_restarts, "had {v} unstable restarts"))
    return [f"app {app.name} " + text.format(v=value) + f", limit {limits[key]}"
            for key, value, text in checks
            if limits.get(key) is not None and value > float(limits[key])]


def check_online(call: ModuleCall, state: State) -> ActionResult:
    if not state.alive:
        return daemon_down(state)
    problems = []
    per_app = call.args.get("limits") or {}
    for name in wanted(call, state):
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
    return ActionResult(False, reason=f"the PM2 daemon is not running (pid {state.daemon_pid}, "
                        f"PM2_HOME {state.home})", fields={"apps": []})


def check_saved(host: PM2Host, state: State) -> ActionResult:
    if not state.alive:
        return daemon_down(state)
    names = dump_names(host.read(f"{shlex.quote(state.home)}/dump.pm2") or "") or []
    missing = [a.name for a in state.apps if a.name not in names]
    reason = f"dump.pm2 lacks {', '.join(missing)}" if missing else ""
    return ActionResult(not missing, stdout=f"dump.pm2 lists {len(names)} apps", reason=reason)


class PM2:
    name = "pm2"
    doc = "PM2 present, daemon alive, apps online and within limits, process list saved."
    fields: Fields = {
        "state": Field("str", "present, alive, online or saved", default="online",
                       choices=("present", "alive", "online", "saved")),
        "apps": Field("names", "app names, or all (default)", default="all"),
        "ecosystem": Field("str", "the primary ecosystem file, started when no dump is usable"),
        "fallback_ecosystem": Field("str", "started when the primary one is missing or fails"),
        "max_restart_attempts": Field("int", "restarts of one app before giving up", minimum=1,
                                      default=3),
        "restart_delay": Field("duration", "wait after the first failed restart; doubles",
                               default="1s"),
        "settle": Field("duration", "how long an app must stay online to count as recovered",
                        default="2s"),
        "max_memory_mb": Field("number", "memory limit per app, in MB", minimum=0),
        "max_cpu": Field("number", "CPU limit per app, in percent", minimum=0),
        "max_restarts": Field("int", "restart count limit per app", minimum=0),
        "max_unstable_restarts": Field("int", "unstable restart limit per app", minimum=0),
        "limits": Field("mapping", "per-app limits: {app: {max_memory_mb: 512, ...}}"),
        "auto_recovery": Field("bool", "false: apply only reports what it would do",
                               default=True),
        "required": Field("bool", "state present: false lets a host without pm2 pass",
                          default=True),
        "pm2_bin": Field("str", "the pm2 command (default: pm2 on the host's PATH)",
                         default="pm2"),
        "pm2_home": Field("str", "PM2_HOME (default: the host's, else ~/.pm2)"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        from runner.modules import pm2recover

        host = PM2Host(call)
        try:
            state = host.state()
            if call.mode is Mode.CHECK or call.args["state"] == "present":
                return self._check(call, host, state)
            if not call.args["auto_recovery"]:
                res = self._check(call, host, state)
                return res if res.ok else ActionResult(
                    False, reason=f"{res.reason} (auto recovery is off)", fields=res.fields)
            return pm2recover.apply(host, state)
        except PM2Error as exc:
            return ActionResult(False, reason=f"pm2: {exc}")

    def _check(self, call: ModuleCall, host: PM2Host, state: State) -> ActionResult:
        kind = call.args["state"]
        if kind == "present":
            fields = {"installed": state.installed}
            if state.installed or not call.args["required"]:
                text = "pm2 is installed" if state.installed else "pm2 is not installed here"
                return ActionResult(True, stdout=text, fields=fields)
            return ActionResult(False, reason=NOT_INSTALLED, fields=fields)
        if kind == "alive":
            if state.alive:
                return ActionResult(True, stdout=f"PM2 daemon alive (pid {state.daemon_pid})")
            return daemon_down(state)
        if kind == "saved":
            return check_saved(host, state)
        return check_online(call, state)
