"""`pm2`: PM2 installed, its daemon alive, apps online and within limits, the process list
saved. In check mode each `state` is only read; in apply mode it is brought about and verified:

- `present`: the pm2 binary is on the host (apply cannot install it: same as check);
- `alive`: the process pm2.pid names is PM2's daemon, no zombie, and rpc.sock accepts a
  connection (see state.py); apply resurrects it from a usable dump, else starts the ecosystem
  file, else the fallback one;
- `online`: each app (or `apps`) online and within limits; no app registered while the dump
  or an ecosystem file lists some fails; apply revives the daemon if needed and restarts only
  the apps that are down;
- `saved`: dump.pm2 lists every registered app; apply backs up the dump and runs `pm2 save`.
"""

from __future__ import annotations

from runner.fields import Field, Fields
from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.pm2 import recover
from runner.modules.pm2.checks import NOT_INSTALLED, check_online, check_saved, daemon_down
from runner.modules.pm2.host import PM2Host
from runner.modules.pm2.state import PM2Error, State


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
        host = PM2Host(call)
        try:
            state = host.state()
            if call.mode is Mode.CHECK or call.args["state"] == "present":
                return self._check(call, host, state)
            if not call.args["auto_recovery"]:
                res = self._check(call, host, state)
                return res if res.ok else ActionResult(
                    False, reason=f"{res.reason} (auto recovery is off)", fields=res.fields)
            return recover.apply(host, state)
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
        return check_online(host, state)
