"""`urs init`, `urs config` and `urs schedule` as a user runs them: the written file reads back
as the defaults, the original JSON converts, crontab lines parse and run, systemd accepts the
units, PM2 starts the ecosystem file, and --install keeps the rest of a crontab."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from cronsim import CronSim

from runner.config.settings import JOB_FIELDS, SECTIONS
from tests.helpers import ROOT, urs
from tests.pm2env import PM2Env

ORIGINAL = ROOT / "tests" / "data" / "original" / "automation" / "ultimate-redundancy-config.json"
FAKEBIN = ROOT / "tests" / "fakebin"
CLEAN = {"URS_CONFIG": "", "URS_STORE": ""}


def settings(cwd: Path, **env: str) -> dict[str, dict[str, object]]:
    out = urs("config", "--json", cwd=cwd, env={**CLEAN, "HOME": str(cwd), **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["settings"]  # type: ignore[no-any-return]


def test_init_writes_every_default_with_a_comment(tmp_path: Path) -> None:
    project, empty = tmp_path / "project", tmp_path / "empty"
    project.mkdir()
    empty.mkdir()
    assert urs("init", cwd=project).stdout == "wrote urs.yml\n"
    lines = (project / "urs.yml").read_text().splitlines()
    names = {"store", *(key for fields in SECTIONS.values() for key in fields), *JOB_FIELDS}
    seen = set()
    for index, line in enumerate(lines):
        setting = re.match(r"^\s*(?:# )?(\w+):(?: |$)", line)
        if setting and setting.group(1) in names:
            seen.add(setting.group(1))
            assert lines[index - 1].lstrip().startswith("# "), line
    assert seen == names
    written = {k: v["value"] for k, v in settings(project, HOME=str(empty)).items()}
    defaults = {k: v["value"] for k, v in settings(empty).items()}
    assert written == defaults
    assert {v["origin"] for k, v in settings(project).items() if k != "store"} - {"default"}
    again = urs("init", cwd=project)
    assert again.returncode == 2 and again.stderr == (
        "error: urs.yml: expected no file there (--force overwrites it), found an existing file\n")
    assert urs("init", "--force", cwd=project).returncode == 0


def test_init_from_the_original_json_and_environment(tmp_path: Path) -> None:
    (tmp_path / "automation").mkdir()
    shutil.copy(ORIGINAL, tmp_path / "automation")
    env = {"PM2_MAX_RESTART_ATTEMPTS": "7", "NETLIFY_CHECK_INTERVAL": "90000",
           "LOAD_BALANCING": "true", "GITHUB_AUTO_TRIGGER": "false"}
    out = urs("init", "--from", "automation/ultimate-redundancy-config.json", cwd=tmp_path,
              env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "wrote urs.yml from automation/ultimate-redundancy-config.json",
        "not carried over: system.loadBalancing: urs does not balance load; PM2 does (instances "
        "and exec_mode: cluster in the ecosystem file)",
        "not carried over: LOAD_BALANCING: urs does not balance load; PM2 does (instances and "
        "exec_mode: cluster in the ecosystem file)",
    ]
    text = (tmp_path / "urs.yml").read_text()
    assert "max_failures: 2  # from ultimate-redundancy-config.json " \
           "netlifyFunctions.maxFailureThreshold" in text
    assert "interval: 90s  # from env NETLIFY_CHECK_INTERVAL" in text
    got = {k: v["value"] for k, v in settings(tmp_path).items()}  # without those variables
    assert got["jobs.pm2.interval"] == "30s" and got["jobs.github.interval"] == "1m"
    assert got["jobs.netlify.interval"] == "90s" and got["jobs.netlify.max_failures"] == 2
    assert got["jobs.pm2.vars.max_restart_attempts"] == 7
    assert got["auto_recovery.github"] is False and got["jobs.github.check_mode"] is True


def test_init_from_a_broken_original_names_the_value(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text('{"pm2": {"healthCheckInterval": "soon", '
                                       '"maxRestartAttempts": 0}}')
    out = urs("init", "--from", "old.json", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines() == [
        "error: old.json: pm2.healthCheckInterval: expected a number of milliseconds, "
        "found 'soon'",
        "error: old.json: pm2.maxRestartAttempts: expected a whole number >= 1, found 0",
    ]
    assert not (tmp_path / "urs.yml").exists()


def test_config_shows_each_value_with_its_origin(tmp_path: Path) -> None:
    (tmp_path / "urs.yml").write_text("log:\n  level: debug\njobs:\n"
                                      "  pm2: {playbooks: recover-pm2, interval: 1m}\n"
                                      "  web: {playbooks: recover-web, cron: '@hourly'}\n")
    out = urs("config", cwd=tmp_path, env={**CLEAN, "PM2_CHECK_INTERVAL": "10000",
                                           "AUTO_RECOVERY": "no"})
    assert out.returncode == 0, out.stderr
    rows = [line.split(None, 1) if not line.startswith("env ") else
            [" ".join(line.split()[:2]), line.split()[2]] for line in out.stdout.splitlines()]
    shown = {value: origin for origin, value in rows}
    assert shown["log.level=debug"] == "urs.yml:2"
    assert shown["jobs.pm2.interval=10s"] == "env PM2_CHECK_INTERVAL"
    assert shown["jobs.web.cron=@hourly"] == "urs.yml:5"
    assert shown["jobs.web.check_mode=true"] == "env AUTO_RECOVERY"
    assert shown["log.format=text"] == "default"
    assert out.stderr == ("notice: jobs.web.playbooks: 'recover-web' is not installed: its runs "
                          "will say so\n")
    as_json = json.loads(urs("config", "--json", cwd=tmp_path, env=CLEAN).stdout)
    assert as_json["file"] == str(tmp_path / "urs.yml") and as_json["root"] == str(tmp_path)
    assert as_json["settings"]["log.level"] == {"value": "debug", "origin": "urs.yml:2"}
    assert as_json["notices"] == [
        "jobs.web.playbooks: 'recover-web' is not installed: its runs will say so"]


def test_config_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "urs.yml").write_text("log: {level: loud}\njobz: {}\n")
    out = urs("config", cwd=tmp_path, env={**CLEAN, "HEALTH_CHECK_INTERVAL": "-5"})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "error: urs.yml:2: jobz: expected a known key, found 'jobz' (did you mean 'jobs'?)",
        "error: urs.yml:1: log.level: expected one of 'debug', 'info', 'warning', 'error', "
        "found 'loud'",
        "error: env HEALTH_CHECK_INTERVAL: jobs.health.interval: expected a number of "
        "milliseconds (30000) or a duration like 30s or 1m, found '-5'",
    ]


PROJECT = """\
store: state/outcomes.db
log: {file: logs/cron.log}
auto_recovery: {pm2: false}
jobs:
  quick:
    playbooks: hello
    interval: 5m
    vars: {greeting: "100% up"}
  pm2:
    playbooks: hello
    interval: 45s
    jitter: 10s
  nightly:
    playbooks: [hello]
    cron: '30 2 * * 1-5'
    timeout: 10m
  off:
    playbooks: hello
    interval: 1h
    enabled: false
"""
HELLO = """\
steps:
  - name: hello
    run: echo "{{ greeting | default('none') }}" >> greetings.txt
"""


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "playbooks").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "urs.yml").write_text(PROJECT)
    (root / "playbooks" / "hello.yml").write_text(HELLO)
    return root


def test_crontab_lines_parse_and_run_as_cron_would(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = urs("schedule", cwd=root, env=CLEAN)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    jobs = [line for line in lines if not line.startswith("#")]
    assert [" ".join(j.split()[:5]) for j in jobs] == ["*/5 * * * *", "* * * * *",
                                                       "30 2 * * 1-5"]
    assert "# pm2: cron runs at most once a minute, not every 45s" in lines
    assert "# pm2: jitter 10s applies under urs daemon only" in lines
    assert any(line.startswith("# disabled: 0 * * * * ") for line in lines)
    start = datetime(2026, 1, 5, 0, 0)  # a Monday
    assert next(CronSim(" ".join(jobs[2].split()[:5]), start)) == datetime(2026, 1, 5, 2, 30)
    assert "--check" in jobs[1] and "--check" not in jobs[0]
    assert " timeout 10m " in jobs[2]
    for line in jobs:
        command = " ".join(line.split()[5:]).replace("\\%", "%")  # as cron hands it to sh
        ran = subprocess.run(["/bin/sh", "-c", command], cwd="/", capture_output=True,
                             text=True, timeout=120, check=False,
                             env={"HOME": str(tmp_path), "PYTHONPATH": os.environ["PYTHONPATH"]})
        assert ran.returncode == 0, (command, ran.stderr)
    history = urs("history", "--json", "--store", str(root / "state" / "outcomes.db"))
    runs = [json.loads(line) for line in history.stdout.splitlines()]
    assert [r["status"] for r in runs] == ["ok", "ok", "ok"]
    assert "hello" in (root / "logs" / "cron.log").read_text()
    # the pm2 job runs as --check (auto_recovery.pm2 is off): its `run` step only reports
    assert sorted((root / "greetings.txt").read_text().splitlines()) == ["100% up", "none"]


def test_install_keeps_other_lines_and_is_idempotent(tmp_path: Path) -> None:
    root = project(tmp_path)
    table = tmp_path / "crontab"
    table.write_text("MAILTO=ops@example.org\n0 1 * * * /usr/local/bin/backup\n")
    env = {**CLEAN, "PATH": f"{FAKEBIN}:{os.environ['PATH']}", "FAKE_CRONTAB": str(table)}
    first = urs("schedule", "--install", cwd=root, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"installed: 4 jobs of {root / 'urs.yml'} in your crontab\n"
    installed = table.read_text()
    assert installed.startswith("MAILTO=ops@example.org\n0 1 * * * /usr/local/bin/backup\n\n")
    printed = urs("schedule", cwd=root, env=env).stdout
    assert printed in installed
    again = urs("schedule", "--install", cwd=root, env=env)
    assert again.stdout.startswith("already installed") and table.read_text() == installed
    (root / "urs.yml").write_text(PROJECT.replace("interval: 5m", "interval: 10m"))
    assert urs("schedule", "--install", cwd=root, env=env).stdout.startswith("installed")
    changed = table.read_text()
    assert changed.count("# >>> urs ") == 1 and "*/10 * * * *" in changed
    assert "*/5 * * * *" not in changed and changed.startswith("MAILTO=ops@example.org\n0 1")


def test_install_without_crontab_says_so(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = urs("schedule", "--install", cwd=root, env={**CLEAN, "PATH": str(tmp_path)})
    assert out.returncode == 2 and out.stderr == (
        "error: crontab: expected the crontab command (Debian: apt-get install cron), "
        "found none on PATH\n")
    other = urs("schedule", "--install", "--format", "pm2", cwd=root, env=CLEAN)
    assert other.returncode == 2 and "expected --format cron" in other.stderr


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = urs("schedule", "--format", "systemd", "-o", str(tmp_path / "units"), cwd=root,
              env=CLEAN)
    assert out.returncode == 0, out.stderr
    units = sorted((tmp_path / "units").iterdir())
    assert [u.name for u in units] == [
        "urs-nightly.service", "urs-nightly.timer", "urs-pm2.service", "urs-pm2.timer",
        "urs-quick.service", "urs-quick.timer"]
    checked = verify(*units)
    assert (checked.returncode, checked.stderr) == (0, "")
    timers = {u.stem: u.read_text() for u in units if u.suffix == ".timer"}
    assert "OnUnitActiveSec=45s" in timers["urs-pm2"] and "RandomizedDelaySec=10s" in \
        timers["urs-pm2"]
    assert "OnCalendar=Mon..Fri *-*-* 2:30:00" in timers["urs-nightly"]
    service = (tmp_path / "units" / "urs-quick.service").read_text()
    assert 'ExecStart=' in service and '"{\\"greeting\\": \\"100%% up\\"}"' in service
    broken = tmp_path / "units" / "urs-quick.service"
    broken.write_text(service.replace("ExecStart=", "ExecStart=relative/"))
    assert verify(broken).returncode != 0  # the check can fail


def test_one_systemd_service_runs_the_daemon(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = urs("schedule", "--format", "systemd-daemon", "-o", str(tmp_path / "units"),
              cwd=root, env=CLEAN)
    assert out.returncode == 0, out.stderr
    unit = tmp_path / "units" / "urs.service"
    assert f"daemon --config {root / 'urs.yml'}" in unit.read_text()
    checked = verify(unit)
    assert (checked.returncode, checked.stderr) == (0, "")


def test_pm2_starts_the_ecosystem_entry(tmp_path: Path, pm2: PM2Env) -> None:
    root = project(tmp_path)
    out = urs("schedule", "--format", "pm2", "-o", str(tmp_path / "pm2"), cwd=root, env=CLEAN)
    assert out.returncode == 0, out.stderr
    pm2.pm2("start", str(tmp_path / "pm2" / "ecosystem.urs.config.js"))
    (app,) = json.loads(pm2.pm2("jlist").strip().splitlines()[-1])
    pm2.pm2("delete", "urs-daemon")
    assert app["name"] == "urs-daemon" and app["pm2_env"]["pm_cwd"] == str(root)
    assert app["pm2_env"]["args"][-3:] == ["daemon", "--config", str(root / "urs.yml")]
    assert Path(app["pm2_env"]["pm_exec_path"]).is_file()
