"""health-pm2 and recover-pm2 against the real PM2, locally: nothing touched when healthy,
only broken apps restarted, a killed daemon resurrected, empty dumps and missing ecosystem
files worked around, a crash-looping app given up on, check mode changing nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import urs
from tests.pm2env import PM2Env

FAST = ["-e", "settle=1s", "-e", "restart_delay=200ms"]


def run(pm2: PM2Env, store: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    out = urs("run", *args, "--json", env={**pm2.env, "URS_STORE": str(store)}, timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    steps = {e["step"]: e for e in map(json.loads, out.stdout.splitlines())
             if e["event"] == "step_finished"}
    return out.returncode, steps, out.stdout


def test_all_healthy_nothing_is_touched(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.start("brief.js", "brief")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    before = pm2.jlist()
    code, steps, _ = run(pm2, store, "health-pm2", "-e", "pm2_apps=web")
    assert code == 0
    assert [steps[s]["status"] for s in ("pm2-present", "daemon-alive", "apps-online",
                                          "apps-within-limits")] == ["ok"] * 4
    code, steps, _ = run(pm2, store, "recover-pm2", "-e", "pm2_apps=web", *FAST)
    assert code == 0
    assert steps["apps-online"]["status"] == "ok" and steps["save"]["status"] == "skipped"
    assert pm2.jlist()["web"] == before["web"]  # same pid, same restart count


def test_one_errored_app_is_restarted_alone(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.flag.write_text("crash")
    pm2.start("toggle.js", "toggle", "--max-restarts", "1")
    pm2.wait_status("toggle", "errored")
    pm2.wait_status("web", "online")
    web_before = pm2.jlist()["web"]
    code, steps, _ = run(pm2, store, "health-pm2")
    assert code == 1 and "app toggle is errored" in steps["apps-online"]["reason"]
    pm2.flag.unlink()
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 0, steps
    online = steps["apps-online"]
    assert online["status"] == "recovered"
    assert online["fields"]["restarted"] == [
        {"name": "toggle", "from": "errored", "attempts": 1, "recovered": True}]
    apps = {a["name"]: a for a in online["fields"]["apps"]}
    assert apps["toggle"]["restarted_from"] == "errored" and apps["toggle"]["restart_attempts"] == 1
    assert "restarted_from" not in apps["web"]
    assert pm2.jlist()["web"] == web_before
    assert pm2.jlist()["toggle"]["status"] == "online"
    assert steps["save"]["status"] == "changed"
    dump = json.loads((pm2.home / "dump.pm2").read_text())
    assert sorted(app["name"] for app in dump) == ["toggle", "web"]


def test_daemon_killed_is_resurrected_from_the_dump(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    pm2.crash_everything()
    assert not pm2.daemon_alive()
    code, steps, _ = run(pm2, store, "health-pm2", "-e", "pm2_required=true")
    assert code == 1 and "daemon is not running" in steps["daemon-alive"]["reason"]
    assert not pm2.daemon_alive(), "a health check must not spawn the daemon"
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 0, steps
    assert steps["daemon-alive"]["status"] == "recovered"
    assert steps["daemon-alive"]["fields"]["source"] == "dump"
    assert pm2.jlist()["web"]["status"] == "online"
    assert (pm2.home / "dump.pm2.urs.bak").exists()


def test_empty_dump_falls_back_to_the_ecosystem_file(pm2: PM2Env, store: Path) -> None:
    ecosystem = pm2.ecosystem("ecosystem.config.js", [("api", "web.js")])
    pm2.pm2("start", str(ecosystem))
    pm2.wait_status("api", "online")
    pm2.crash_everything()
    (pm2.home / "dump.pm2").write_text("[]")
    code, steps, _ = run(pm2, store, "recover-pm2", "-e", f"ecosystem={ecosystem}", *FAST)
    assert code == 0, steps
    assert steps["daemon-alive"]["fields"]["source"] == "ecosystem"
    assert pm2.jlist()["api"]["status"] == "online"
    # the save keeps no backup of an empty dump, and the new dump lists the app
    assert not (pm2.home / "dump.pm2.urs.bak").exists()
    assert [a["name"] for a in json.loads((pm2.home / "dump.pm2").read_text())] == ["api"]


def test_missing_primary_ecosystem_uses_the_fallback(pm2: PM2Env, store: Path) -> None:
    fallback = pm2.ecosystem("fallback.config.js", [("api-fallback", "web.js")])
    code, steps, _ = run(pm2, store, "recover-pm2", "-e",
                         f"ecosystem={pm2.folder / 'nope.config.js'}", "-e",
                         f"fallback_ecosystem={fallback}", *FAST)
    assert code == 0, steps
    assert steps["daemon-alive"]["fields"]["source"] == "fallback_ecosystem"
    assert pm2.jlist()["api-fallback"]["status"] == "online"


def test_nothing_to_revive_from_fails_clearly(pm2: PM2Env, store: Path) -> None:
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 1
    reason = steps["daemon-alive"]["reason"]
    assert reason.startswith("recovery failed: cannot revive the PM2 daemon")
    assert "dump.pm2 is missing, unreadable or empty" in reason


def test_crash_looping_app_is_given_up_after_the_limit(pm2: PM2Env, store: Path) -> None:
    pm2.start("crash.js", "crasher", "--max-restarts", "1")
    pm2.wait_status("crasher", "errored")
    code, steps, _ = run(pm2, store, "recover-pm2", "-e", "max_restart_attempts=2", *FAST)
    assert code == 1
    online = steps["apps-online"]
    assert online["status"] == "failed"
    assert "app crasher still down after 2 restart attempts" in online["reason"]
    assert online["fields"]["restarted"][0]["attempts"] == 2
    assert steps["save"]["status"] == "skipped"


def test_check_mode_reports_and_changes_nothing(pm2: PM2Env, store: Path) -> None:
    pm2.flag.write_text("crash")
    pm2.start("toggle.js", "toggle", "--max-restarts", "1")
    pm2.wait_status("toggle", "errored")
    before = pm2.jlist()
    pm2.flag.unlink()
    code, steps, _ = run(pm2, store, "recover-pm2", "--check", *FAST)
    assert code == 1
    assert "would recover: pm2" in steps["apps-online"]["reason"]
    assert pm2.jlist() == before


def test_limits_name_the_app_and_the_number(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    code, steps, _ = run(pm2, store, "health-pm2", "-e", "max_memory_mb=1")
    assert code == 1
    assert steps["apps-online"]["status"] == "ok"
    reason = steps["apps-within-limits"]["reason"]
    assert reason.startswith("app web uses ") and reason.endswith(" MB, limit 1")


def test_auto_recovery_off_only_reports(pm2: PM2Env, store: Path) -> None:
    pm2.start("crash.js", "crasher", "--max-restarts", "1")
    pm2.wait_status("crasher", "errored")
    before = pm2.jlist()
    env_off = {**pm2.env, "PM2_AUTO_RECOVERY": "false", "URS_STORE": str(store)}
    out = urs("run", "recover-pm2", "--json", *FAST, env=env_off, timeout=300)
    assert out.returncode == 1
    started = json.loads(out.stdout.splitlines()[0])
    assert started["check_mode"] is True  # the whole run reports, as --check does
    assert started["check_reason"] == "auto-recovery is off (env PM2_AUTO_RECOVERY)"
    assert "would recover: pm2 state=online apps=all" in out.stdout, out.stdout
    assert pm2.jlist() == before


def test_app_environment_is_never_printed_or_recorded(pm2: PM2Env, store: Path) -> None:
    marker = "zebra-config-31337"
    pm2.env["APP_CONFIG_VALUE"] = marker
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    code, _, stdout = run(pm2, store, "health-pm2", "-v")
    assert code == 0
    assert marker not in stdout
    with sqlite3.connect(store) as db:
        assert marker not in json.dumps(db.execute("SELECT * FROM step_outcomes").fetchall())


def test_the_same_playbooks_over_ssh(pm2: PM2Env, store: Path, tmp_path: Path) -> None:
    from tests.sshd import Fleet

    fleet = Fleet(tmp_path / "fleet")
    try:
        (host,) = fleet.start(1, env={"PM2_HOME": str(pm2.home), "PATH": pm2.env["PATH"]})
        inventory = fleet.inventory(tmp_path / "inv.ini", [host])
        pm2.start("web.js", "web")
        pm2.wait_status("web", "online")
        pm2.pm2("save")
        ssh = ["-i", str(inventory), "--known-hosts", str(fleet.known_hosts)]
        code, steps, _ = run(pm2, store, "health-pm2", *ssh, "-e", "pm2_required=true")
        assert code == 0, steps
        pm2.crash_everything()
        code, steps, _ = run(pm2, store, "health-pm2", *ssh, "-e", "pm2_required=true")
        assert code == 1 and steps["daemon-alive"]["host"] == host.name
        code, steps, _ = run(pm2, store, "recover-pm2", *ssh, "-l", host.name, *FAST)
        assert code == 0, steps
        assert steps["daemon-alive"]["status"] == "recovered"
        assert pm2.jlist()["web"]["status"] == "online"
    finally:
        fleet.stop()


def test_an_unregistered_app_is_started_alone_from_the_ecosystem(pm2: PM2Env,
                                                                 store: Path) -> None:
    ecosystem = pm2.ecosystem("ecosystem.config.js", [("web", "web.js"), ("api", "web.js")])
    pm2.pm2("start", str(ecosystem), "--only", "web")
    pm2.wait_status("web", "online")
    web_before = pm2.jlist()["web"]
    code, steps, _ = run(pm2, store, "recover-pm2", "-e", '{"pm2_apps": ["web", "api"]}',
                         "-e", f"ecosystem={ecosystem}", *FAST)
    assert code == 0, steps
    assert steps["apps-online"]["status"] == "recovered"
    assert pm2.jlist()["api"]["status"] == "online"
    assert pm2.jlist()["web"] == web_before


def test_cluster_instances_are_each_checked_and_restarted(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "api", "-i", "2")
    pm2.wait_status("api", "online")
    ids = sorted(a["pm_id"] for a in json.loads(pm2.pm2("jlist").strip().splitlines()[-1]))
    pm2.pm2("stop", str(ids[1]))
    code, steps, _ = run(pm2, store, "health-pm2")
    assert code == 1
    assert steps["apps-online"]["reason"] == f"app api (pm_id {ids[1]}) is stopped"
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 0, steps
    (restarted,) = steps["apps-online"]["fields"]["restarted"]
    assert restarted["from"] == "stopped"
    listed = json.loads(pm2.pm2("jlist").strip().splitlines()[-1])
    statuses = [a["pm2_env"]["status"] for a in listed]
    assert statuses == ["online", "online"]


# A parent that adopts the PM2 daemon (PR_SET_CHILD_SUBREAPER) and never waits for it, as a
# container whose PID 1 is no init: a daemon killed with SIGKILL then stays a zombie.
ADOPTER = """import ctypes, signal, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print("ready", flush=True)
signal.pause()
"""


def _revived(pm2: PM2Env, store: Path, problem: str) -> None:
    """health-pm2 sees the daemon dead (saying why) without spawning one; recover-pm2 brings
    back the saved apps."""
    stale = pm2.daemon_pid()
    code, steps, _ = run(pm2, store, "health-pm2", "-e", "pm2_required=true")
    assert code == 1 and steps["daemon-alive"]["status"] == "failed", steps
    reason = steps["daemon-alive"]["reason"]
    assert reason.startswith(f"the PM2 daemon is not running (pid {stale} {problem}"), reason
    assert pm2.daemon_pid() == stale, "a health check must not spawn the daemon"
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 0, steps
    assert steps["daemon-alive"]["status"] == "recovered"
    assert steps["daemon-alive"]["fields"]["source"] == "dump"
    assert pm2.daemon_pid() != stale and pm2.jlist()["web"]["status"] == "online"


def test_a_zombie_daemon_is_dead_and_resurrected(pm2: PM2Env, store: Path) -> None:
    adopter = subprocess.Popen([sys.executable, "-c", ADOPTER, str(pm2.binary), "ping"],
                               env=pm2.env, stdout=subprocess.PIPE, text=True)
    try:
        assert adopter.stdout and adopter.stdout.readline() == "ready\n"
        daemon = pm2.daemon_pid()
        assert daemon and _parent(daemon) == adopter.pid
        title = Path(f"/proc/{daemon}/cmdline").read_text().strip("\0")
        # what the probe looks for (the title is cut to the space of node's own argv)
        assert title.startswith("PM2 v7.0.4: God Daemon (")
        pm2.start("web.js", "web")
        pm2.wait_status("web", "online")
        pm2.pm2("save")
        pm2.crash_everything()
        assert Path(f"/proc/{daemon}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        _revived(pm2, store, "is a zombie")
    finally:
        adopter.kill()
        adopter.wait()


def test_a_daemon_pid_reused_by_another_process_is_dead(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    pm2.crash_everything()
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        (pm2.home / "pm2.pid").write_text(str(sleeper.pid))
        _revived(pm2, store, "is not the PM2 daemon but: sleep 600")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_empty_process_list_where_the_dump_names_apps_fails(pm2: PM2Env,
                                                                store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    pm2.pm2("delete", "all")
    code, steps, _ = run(pm2, store, "health-pm2")
    assert code == 1
    assert steps["daemon-alive"]["status"] == "ok"
    assert steps["apps-online"]["reason"] == \
        f"no app is registered, but {pm2.home}/dump.pm2 lists web"


def test_the_apps_of_an_ecosystem_file_are_read_without_starting_them(pm2: PM2Env) -> None:
    from runner.connections.local import LocalConnection
    from runner.fields import with_defaults
    from runner.modules import Mode, ModuleCall
    from runner.modules.pm2 import PM2
    from runner.modules.pm2.host import PM2Host

    host = PM2Host(ModuleCall(args=with_defaults(PM2.fields, {}), mode=Mode.CHECK,
                              connection=LocalConnection(), host="localhost", vars={}))
    js = pm2.ecosystem("ecosystem.config.js", [("api", "web.js"), ("worker", "brief.js")])
    assert host.app_names(str(js)) == ["api", "worker"]
    (pm2.folder / "apps.json").write_text('{"apps": [{"name": "api", "script": "web.js"}]}')
    assert host.app_names(str(pm2.folder / "apps.json")) == ["api"]
    (pm2.folder / "apps.yml").write_text("apps:\n  - name: api\n    script: web.js\n")
    assert host.app_names(str(pm2.folder / "apps.yml")) == ["api"]
    assert host.app_names(str(pm2.folder / "missing.config.js")) is None
    assert not pm2.daemon_alive()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_live_daemon_with_no_app_is_refilled_from_the_dump(pm2: PM2Env, store: Path) -> None:
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    pm2.pm2("delete", "all")
    code, steps, _ = run(pm2, store, "recover-pm2", *FAST)
    assert code == 0, steps
    assert steps["daemon-alive"]["status"] == "ok"
    online = steps["apps-online"]
    assert online["status"] == "recovered" and online["fields"]["source"] == "dump"
    assert pm2.jlist()["web"]["status"] == "online"
