"""pm2 on one host, reached through the step's connection."""

from __future__ import annotations

import json
import shlex
import time

from runner.fields import parse_duration
from runner.modules import ActionResult, ModuleCall
from runner.modules.pm2.state import PM2Error, State, dump_names, parse_probe, probe_script

POLL_S = 0.3
# prints the apps of the ecosystem file $1 (module.exports = {apps: [...]}, or JSON) as JSON
APPS_JS = """const c = require(require("path").resolve(process.argv[1]));
const apps = [].concat((c && c.apps) || c || []);
console.log(JSON.stringify(apps.map((a) => ({name: a && a.name}))));"""


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

    def app_names(self, path: str) -> list[str] | None:
        """The apps an ecosystem file lists (JavaScript or JSON through node on the host, YAML
        read here), or None when it cannot be read or lists none."""
        if path.endswith((".yml", ".yaml")):
            import yaml

            try:
                data = yaml.safe_load(self.read(shlex.quote(path)) or "")
            except yaml.YAMLError:
                return None
            apps = data.get("apps") if isinstance(data, dict) else data
            return dump_names(json.dumps(apps if isinstance(apps, list) else []))
        res = self.sh(f"node -e {shlex.quote(APPS_JS)} {shlex.quote(path)} 2>/dev/null")
        lines = res.stdout.strip().splitlines()
        return dump_names(lines[-1]) if res.ok and lines else None

    def exists(self, path: str) -> bool:
        return self.sh(f"test -f {shlex.quote(path)}").ok

    def stable(self, names: list[str], timeout: float) -> tuple[bool, State]:
        """Wait until every named app is online and its restart count holds for `settle`;
        (False, last state) after `timeout`. The attempt's deadline and the run's cancel end
        the wait sooner, raising `DeadlineExceeded` or `Interrupted`."""
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
            left = deadline - time.monotonic()
            if left <= 0:
                return False, state
            self.call.sleep(min(POLL_S, left))
