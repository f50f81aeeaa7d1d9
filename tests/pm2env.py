"""Real PM2 (the pinned release that ./scripts/test installs from npm) with its PM2_HOME in a
temporary folder, and small Node.js apps of the tests' own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, TEST_TOOLS, installed, wait_for

APPS = ROOT / "tests" / "data" / "pm2"
DEFAULT_PM2 = TEST_TOOLS / "pm2-7.0.4" / "node_modules" / ".bin" / "pm2"


def pm2_binary() -> Path:
    return installed("URS_TEST_PM2", DEFAULT_PM2, "PM2")


class PM2Env:
    """One PM2_HOME and the environment that points pm2 at it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.home = folder / "pm2home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.binary = pm2_binary()
        self.flag = folder / "crash.flag"
        self.env = {
            **os.environ,
            "PM2_HOME": str(self.home),
            "PATH": f"{self.binary.parent}:{os.environ['PATH']}",
            "CRASH_FLAG": str(self.flag),
        }

    def pm2(self, *args: str, check: bool = True) -> str:
        out = subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                             env=self.env, timeout=120, check=False)
        if check and out.returncode != 0:
            raise RuntimeError(f"pm2 {' '.join(args)}: {out.stdout}\n{out.stderr}")
        return out.stdout

    def start(self, script: str, name: str, *extra: str) -> None:
        self.pm2("start", str(APPS / script), "--name", name, *extra)

    def jlist(self) -> dict[str, dict[str, Any]]:
        """name -> {status, pid, restarts}; only when the daemon runs (pm2 would spawn one)."""
        if not self.daemon_alive():
            return {}
        line = self.pm2("jlist").strip().splitlines()[-1]
        return {a["name"]: {"status": a["pm2_env"]["status"], "pid": a.get("pid"),
                            "restarts": a["pm2_env"].get("restart_time", 0)}
                for a in json.loads(line)}

    def daemon_pid(self) -> int | None:
        try:
            return int((self.home / "pm2.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def daemon_alive(self) -> bool:
        pid = self.daemon_pid()
        return pid is not None and Path(f"/proc/{pid}").exists() and \
            Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"

    def wait_status(self, name: str, status: str, deadline_s: float = 30.0) -> None:
        if not wait_for(lambda: self.jlist().get(name, {}).get("status") == status, deadline_s):
            raise AssertionError(f"{name} never became {status}: {self.jlist()}")

    def crash_everything(self) -> None:
        """SIGKILL the daemon and its apps, as a reboot or the OOM killer would."""
        pids = [a["pid"] for a in self.jlist().values() if a["pid"]]
        daemon = self.daemon_pid()
        for pid in [*pids, *([daemon] if daemon else [])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not self.daemon_alive(), 10.0)

    def ecosystem(self, name: str, apps: list[tuple[str, str]]) -> Path:
        entries = ", ".join(
            f"{{name: {json.dumps(app)}, script: {json.dumps(str(APPS / script))}}}"
            for app, script in apps)
        path = self.folder / name
        path.write_text(f"module.exports = {{ apps: [{entries}] }};\n")
        return path

    def stop(self) -> None:
        if self.daemon_alive():
            self.pm2("kill", check=False)
        self.crash_everything()
        shutil.rmtree(self.home, ignore_errors=True)
