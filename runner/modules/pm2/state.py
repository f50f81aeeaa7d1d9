"""Reading PM2's state without side effects.

Every pm2 CLI call spawns a daemon when none runs, so whether the daemon is alive is read
from `$PM2_HOME/pm2.pid` and a signal-0 probe; `pm2 jlist` is called only when it is. Only
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

    def app(self, name: str) -> App | None:
        return next((a for a in self.apps if a.name == name), None)

    def instances(self, name: str) -> list[App]:
        """Every process of an app: in cluster mode several share one name."""
        return [a for a in self.apps if a.name == name]

    def names(self) -> list[str]:
        return list(dict.fromkeys(a.name for a in self.apps))


def probe_script(pm2_bin: str, pm2_home: str | None) -> str:
    """One command: is pm2 installed, is its daemon alive, and (only then) its app list."""
    home = shlex.quote(pm2_home) if pm2_home else '"${PM2_HOME:-$HOME/.pm2}"'
    binary = shlex.quote(pm2_bin)
    return (
        f"home={home}; export PM2_HOME=\"$home\"; "
        f"if ! command -v {binary} >/dev/null 2>&1; then echo '{MARK} missing'; exit 0; fi; "
        'pid=$(cat "$home/pm2.pid" 2>/dev/null); '
        'if [ -n "$pid" ] && { kill -0 "$pid" 2>/dev/null || [ -d "/proc/$pid" ]; }; then '
        f'echo "{MARK} alive $pid $home"; {binary} jlist; '
        f'else echo "{MARK} dead ${{pid:-none}} $home"; fi'
    )


def parse_probe(output: str) -> State:
    head, _, rest = output.partition("\n")
    words = head.split()
    if len(words) < 2 or words[0] != MARK:
        raise PM2Error(f"unexpected probe output: {_tail(output)}")
    if words[1] == "missing":
        return State(False, False, "", "")
    home = " ".join(words[3:])
    if words[1] == "dead":
        return State(True, False, home, words[2])
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
