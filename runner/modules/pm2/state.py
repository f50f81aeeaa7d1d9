"""Reading PM2's state without side effects.

Every pm2 CLI call spawns a daemon when none runs, so whether the daemon is alive is read
without pm2: the process `$PM2_HOME/pm2.pid` names must be no zombie and run PM2, and
`$PM2_HOME/rpc.sock` must accept a connection (a SIGKILLed daemon nobody reaps and a pid reused
by another process both fail that); `pm2 jlist` is called only when it is alive. Only
whitelisted fields of each app are kept: PM2 copies the whole environment of the shell that
started an app into `pm2_env` (secrets included), and none of it may be printed or recorded.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

MARK = "URS-PM2"
STATUSES = ("online", "stopping", "stopped", "launching", "errored", "one-launch-status",
            "waiting restart")
DOWN = frozenset({"stopped", "errored", "one-launch-status"})


class PM2Error(Exception):
    """pm2 answered something that cannot be read."""


@dataclass(frozen=True)
class App:
    name: str
    pm_id: int
    pid: int | None
    status: str
    restarts: int = 0
    unstable_restarts: int = 0
    memory_mb: float = 0.0
    cpu: float = 0.0
    exit_code: int | None = None

    @property
    def online(self) -> bool:
        return self.status == "online" and bool(self.pid)

    @property
    def down(self) -> bool:
        """Needs a restart: stopped, errored, or stuck waiting to restart with no process."""
        return self.status in DOWN or (self.status == "waiting restart" and not self.pid)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "pm_id": self.pm_id, "status": self.status, "pid": self.pid,
                "restarts": self.restarts, "unstable_restarts": self.unstable_restarts,
                "memory_mb": round(self.memory_mb, 1), "cpu": self.cpu}


@dataclass(frozen=True)
class State:
    installed: bool
    alive: bool
    home: str
    daemon_pid: str
    apps: tuple[App, ...] = ()
    problem: str = ""  # why the daemon counts as dead

    def app(self, name: str) -> App | None:
        return next((a for a in self.apps if a.name == name), None)

    def instances(self, name: str) -> list[App]:
        """Every process of an app: in cluster mode several share one name."""
        return [a for a in self.apps if a.name == name]

    def names(self) -> list[str]:
        return list(dict.fromkeys(a.name for a in self.apps))


# $1 the pm2 command, $2 PM2_HOME (empty: the host's, else ~/.pm2). The daemon is alive only
# when pm2.pid names a process that is not a zombie, runs PM2 (its title, or pm2-runtime), and
# rpc.sock in PM2_HOME accepts a connection; `pm2 jlist` runs only then (it would spawn one).
PROBE = r"""bin=$1; home=${2:-${PM2_HOME:-$HOME/.pm2}}; export PM2_HOME="$home"
command -v "$bin" >/dev/null 2>&1 || { echo "URS-PM2 missing"; exit 0; }
pid=$(cat "$home/pm2.pid" 2>/dev/null); sock="$home/rpc.sock"
case "$pid" in ''|*[!0-9]*) pid=none ;; esac
refused() {
  if command -v node >/dev/null 2>&1; then ! node -e '
    const s = require("net").connect(process.argv[1], () => process.exit(0));
    s.on("error", () => process.exit(1)); setTimeout(() => process.exit(2), 3000);' "$sock"
  elif command -v python3 >/dev/null 2>&1; then ! python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1])' "$sock" 2>/dev/null
  elif command -v nc >/dev/null 2>&1; then ! nc -zU "$sock" 2>/dev/null
  else false; fi
}
problem() {
  [ "$pid" != none ] || { echo "no pid in $home/pm2.pid"; return; }
  if [ -r "/proc/$pid/stat" ]; then
    st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
  else
    st=$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1); cmd=$(ps -o args= -p "$pid" 2>/dev/null)
  fi
  [ -n "$st" ] || { echo "pid $pid is not running"; return; }
  [ "$st" != Z ] || { echo "pid $pid is a zombie (killed, never reaped)"; return; }
  case "$cmd" in
    *"God Daemon"*|*pm2*|*PM2*|"${PM2_DAEMON_TITLE:-God Daemon}"*) ;;
    *) echo "pid $pid is not the PM2 daemon but: $cmd" | cut -c1-200; return ;;
  esac
  [ -S "$sock" ] || { echo "$sock is missing"; return; }
  if refused; then echo "$sock accepts no connection"; fi
}
why=$(problem)
if [ -n "$why" ]; then printf 'URS-PM2 dead %s %s\n%s\n' "$pid" "$home" "$why"; exit 0; fi
echo "URS-PM2 alive $pid $home"; "$bin" jlist"""


def probe_script(pm2_bin: str, pm2_home: str | None) -> str:
    """One command: is pm2 installed, is its daemon alive (and if not, why), and only when it
    is, its app list. A POSIX sh script whatever the login shell."""
    words = " ".join(shlex.quote(w) for w in (pm2_bin, pm2_home or ""))
    return f"sh -c {shlex.quote(PROBE)} urs-pm2 {words}"


def parse_probe(output: str) -> State:
    head, _, rest = output.partition("\n")
    words = head.split()
    if len(words) < 2 or words[0] != MARK:
        raise PM2Error(f"unexpected probe output: {_tail(output)}")
    if words[1] == "missing":
        return State(False, False, "", "")
    home = " ".join(words[3:])
    if words[1] == "dead":
        return State(True, False, home, words[2], problem=rest.strip().partition("\n")[0])
    return State(True, True, home, words[2], parse_jlist(rest))


def parse_jlist(output: str) -> tuple[App, ...]:
    """Apps from `pm2 jlist`: the JSON is the last line that starts with '[' (a cold start
    prints banners and daemon messages first)."""
    for line in reversed(output.strip().splitlines()):
        if line.lstrip().startswith("["):
            try:
                data = json.loads(line)
            except ValueError:
                break
            if isinstance(data, list):
                return tuple(_app(item) for item in data if isinstance(item, dict))
    raise PM2Error(f"pm2 jlist printed no process list: {_tail(output)}")


def _app(item: dict[str, Any]) -> App:
    env: dict[str, Any] = item["pm2_env"] if isinstance(item.get("pm2_env"), dict) else {}
    monit: dict[str, Any] = item["monit"] if isinstance(item.get("monit"), dict) else {}
    return App(
        name=str(item.get("name") or env.get("name") or "?"),
        pm_id=_int(item.get("pm_id", env.get("pm_id"))) or 0,
        pid=_int(item.get("pid")) or None,
        status=str(env.get("status") or "unknown"),
        restarts=_int(env.get("restart_time")) or 0,
        unstable_restarts=_int(env.get("unstable_restarts")) or 0,
        memory_mb=(_int(monit.get("memory")) or 0) / (1024 * 1024),
        cpu=float(monit.get("cpu") or 0),
        exit_code=_int(env.get("exit_code")),
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def dump_names(text: str) -> list[str] | None:
    """App names in a dump.pm2, or None when it is missing, unreadable or empty (PM2 is known
    to overwrite it with [])."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    names = [str(item.get("name")) for item in data if isinstance(item, dict) and item.get("name")]
    return names or None


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]
