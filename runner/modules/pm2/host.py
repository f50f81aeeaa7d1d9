"""pm2 on one host, reached through the step's connection."""

from __future__ import annotations

import shlex
import time

from runner.fields import parse_duration
from runner.modules import ActionResult, ModuleCall
from runner.modules.pm2.state import PM2Error, State, parse_probe, probe_script

POLL_S = 0.3


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
