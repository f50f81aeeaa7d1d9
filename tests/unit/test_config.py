"""runner.config.load: the file, the environment (URS_* and the original's names, with their
units) and the command line, by precedence, each value with its origin; every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import config
from runner.errors import InputError

HOME = {"HOME": "/home/op"}


def load(tmp: Path, text: str | None = None, **env: str) -> config.Config:
    if text is not None:
        (tmp / "urs.yml").write_text(text)
    return config.load(tmp, {**HOME, **env})


def problems(tmp: Path, text: str | None = None, **env: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        load(tmp, text, **env)
    return [str(p) for p in caught.value.problems]


def test_without_a_file_the_original_four_jobs_run_on_its_intervals(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    jobs = {j.name: (j.playbooks, j.interval, j.system, j.check_mode) for j in cfg.jobs}
    assert jobs == {"pm2": (("recover-pm2",), 30.0, "pm2", False),
                    "github": (("recover-workflows",), 60.0, "github", False),
                    "netlify": (("recover-netlify",), 120.0, "netlify", False),
                    "health": (("health",), 300.0, "health", False)}
    assert cfg.path is None and cfg.root == tmp_path
    assert cfg.store == "/home/op/.local/state/urs/outcomes.db"
    assert str(cfg.origin("jobs.pm2.interval")) == "default"


def test_the_file_is_found_in_a_parent_folder_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "urs.yml").write_text("store: state/o.db\nlog: {file: urs.log}\njobs:\n"
                                      "  web: {playbooks: [health, books/x.yml], cron: '@hourly',"
                                      " inventory: [hosts.ini, 'a,b,']}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    cfg = config.load(deep, HOME)
    assert cfg.path == tmp_path / "urs.yml" and cfg.root == tmp_path
    assert cfg.store == str(tmp_path / "state" / "o.db")
    assert cfg.log.file == tmp_path / "urs.log"
    assert [(j.name, j.cron, j.interval) for j in cfg.jobs] == [("web", "@hourly", None)]
    assert cfg.jobs[0].playbooks == ("health", str(tmp_path / "books" / "x.yml"))
    assert cfg.jobs[0].inventory == (str(tmp_path / "hosts.ini"), "a,b,")
    assert str(cfg.origin("jobs.web.cron")) == f"{tmp_path / 'urs.yml'}:4"


def test_urs_config_and_the_option_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "other.yml").write_text("log: {level: debug}\n")
    assert config.load(tmp_path, {"URS_CONFIG": "other.yml"}).log.level == "debug"
    assert config.load(Path("/"), {}, path=tmp_path / "other.yml").log.level == "debug"
    with pytest.raises(InputError, match="env URS_CONFIG: expected an existing configuration"):
        config.load(tmp_path, {"URS_CONFIG": "missing.yml"})


def test_precedence_command_line_then_env_then_file_then_defaults(tmp_path: Path) -> None:
    (tmp_path / "urs.yml").write_text("log:\n  level: error\n  format: json\n"
                                      "auto_recovery: {pm2: true}\n")
    env = {**HOME, "REDUNDANCY_LOG_LEVEL": "INFO", "URS_LOG_LEVEL": "warning"}
    cfg = config.load(tmp_path, env, {"log.format": "text"})
    assert (cfg.log.level, str(cfg.origin("log.level"))) == ("warning", "env URS_LOG_LEVEL")
    assert (cfg.log.format, str(cfg.origin("log.format"))) == ("text", "command line")
    assert str(cfg.origin("auto_recovery.pm2")) == "urs.yml:4"
    assert str(cfg.origin("log.rotate_keep")) == "default"
    without = config.load(tmp_path, {**HOME, "REDUNDANCY_LOG_LEVEL": "INFO"})
    assert (without.log.level, str(without.origin("log.level"))) == ("info",
                                                                   "env REDUNDANCY_LOG_LEVEL")


ORIGINAL = [  # variable, value, setting, resolved value
    ("PM2_CHECK_INTERVAL", "10000", "jobs.pm2.interval", 10.0),
    ("PM2_HEALTH_CHECK_INTERVAL", "45000", "jobs.pm2.interval", 45.0),
    ("PM2_CHECK_INTERVAL", "1m", "jobs.pm2.interval", 60.0),
    ("GITHUB_CHECK_INTERVAL", "90000", "jobs.github.interval", 90.0),
    ("GITHUB_HEALTH_CHECK_INTERVAL", "30s", "jobs.github.interval", 30.0),
    ("NETLIFY_CHECK_INTERVAL", "2500", "jobs.netlify.interval", 2.5),
    ("NETLIFY_HEALTH_CHECK_INTERVAL", "600000", "jobs.netlify.interval", 600.0),
    ("HEALTH_CHECK_INTERVAL", "60000", "jobs.health.interval", 60.0),
    ("AUTO_RECOVERY", "false", "auto_recovery.enabled", False),
    ("PM2_AUTO_RECOVERY", "no", "auto_recovery.pm2", False),
    ("GITHUB_AUTO_TRIGGER", "0", "auto_recovery.github", False),
    ("NETLIFY_AUTO_REGENERATE", "FALSE", "auto_recovery.netlify", False),
    ("PM2_MAX_RESTART_ATTEMPTS", "5", "jobs.pm2.vars.max_restart_attempts", 5),
    ("GITHUB_MAX_FAILURES", "4", "jobs.github.max_failures", 4),
    ("NETLIFY_MAX_FAILURES", "2", "jobs.netlify.max_failures", 2),
    ("REDUNDANCY_LOG_LEVEL", "DEBUG", "log.level", "debug"),
    ("PM2_REDUNDANCY_LOG_LEVEL", "WARN", "jobs.pm2.log_level", "warning"),
    ("GITHUB_REDUNDANCY_LOG_LEVEL", "ERROR", "jobs.github.log_level", "error"),
    ("NETLIFY_REDUNDANCY_LOG_LEVEL", "debug", "jobs.netlify.log_level", "debug"),
]


@pytest.mark.parametrize(("name", "text", "key", "value"), ORIGINAL,
                         ids=[f"{n}={t}" for n, t, _, _ in ORIGINAL])
def test_every_original_variable_is_read_with_its_unit(tmp_path: Path, name: str, text: str,
                                                      key: str, value: object) -> None:
    cfg = load(tmp_path, **{name: text})
    assert cfg.values[key].value == value
    assert str(cfg.origin(key)) == f"env {name}"


def test_the_original_variables_reach_the_jobs(tmp_path: Path) -> None:
    cfg = load(tmp_path, PM2_MAX_RESTART_ATTEMPTS="5", PM2_REDUNDANCY_LOG_LEVEL="WARN",
               REDUNDANCY_LOG_LEVEL="error", GITHUB_MAX_FAILURES="4")
    assert cfg.job("pm2").vars == {"max_restart_attempts": 5}
    assert cfg.job("pm2").log_level == "warning" and cfg.job("health").log_level == "error"
    assert cfg.job("github").max_failures == 4


def test_auto_recovery_off_makes_jobs_run_as_check(tmp_path: Path) -> None:
    per_system = load(tmp_path, PM2_AUTO_RECOVERY="false")
    assert {j.name: j.check_mode for j in per_system.jobs} == {
        "pm2": True, "github": False, "netlify": False, "health": False}
    assert str(per_system.origin("jobs.pm2.check_mode")) == "env PM2_AUTO_RECOVERY"
    master = load(tmp_path, "auto_recovery: {enabled: false, pm2: true}\n")
    assert all(j.check_mode for j in master.jobs)
    assert str(master.origin("jobs.pm2.check_mode")) == "urs.yml:1"


def test_an_interval_from_the_environment_replaces_the_files_cron(tmp_path: Path) -> None:
    cfg = load(tmp_path, "jobs:\n  health: {playbooks: [health], cron: '*/5 * * * *'}\n",
               HEALTH_CHECK_INTERVAL="20000")
    assert (cfg.job("health").interval, cfg.job("health").cron) == (20.0, None)
    urs_env = load(tmp_path, URS_JOB_HEALTH_CRON="@daily")
    assert (urs_env.job("health").interval, urs_env.job("health").cron) == (None, "@daily")


def test_urs_variables_cover_every_setting(tmp_path: Path) -> None:
    cfg = load(tmp_path, URS_STORE="postgresql://db/urs", URS_AUTO_RECOVERY="off",
               URS_LOG_ROTATE_MB="0", URS_JOB_PM2_VARS='{"pm2_apps": "web"}',
               URS_JOB_HEALTH_INVENTORY="inventory/a.ini,inventory/b.ini",
               URS_JOB_HEALTH_ENABLED="no", URS_JOB_PM2_TIMEOUT="90")
    assert cfg.store == "postgresql://db/urs" and not cfg.auto_recovery.enabled
    assert cfg.log.rotate_mb == 0
    assert cfg.job("pm2").vars == {"pm2_apps": "web"}
    assert cfg.job("pm2").timeout == 90.0
    assert cfg.job("health").inventory == (str(tmp_path / "inventory/a.ini"),
                                           str(tmp_path / "inventory/b.ini"))
    assert [j.name for j in cfg.enabled_jobs] == ["pm2", "github", "netlify"]


def test_variables_for_absent_jobs_are_notices(tmp_path: Path) -> None:
    cfg = load(tmp_path, "jobs:\n  web: {playbooks: health, interval: 1m}\n",
               PM2_CHECK_INTERVAL="5000", URS_JOB_WEBB_INTERVAL="5s", LOAD_BALANCING="true")
    assert cfg.notices == (
        "PM2_CHECK_INTERVAL is set but no job has system pm2: ignored",
        "URS_JOB_WEBB_INTERVAL: no job has this setting: ignored "
        "(did you mean 'URS_JOB_WEB_INTERVAL'?)",
        "LOAD_BALANCING is not used by urs: urs does not balance load; PM2 does (instances "
        "and exec_mode: cluster in the ecosystem file)",
    )


def test_every_problem_of_file_and_environment_at_once(tmp_path: Path) -> None:
    text = """\
store: 12
log:
  levle: debug
  format: xml
auto_recovery: {pm2: maybe}
web: [listen]
jobs:
  pm2:
    playbooks: recover-pm2
    interval: 30s
    cron: '* * * * *'
  nightly:
    playbooks: health
  bad cron:
    playbooks: health
    cron: '61 * * * *'
  backup:
    playbook: health
    cron: '99 * * * *'
"""
    assert problems(tmp_path, text, PM2_CHECK_INTERVAL="soon", URS_LOG_ROTATE_KEEP="-1") == [
        "urs.yml:1: store: expected a string, found 12",
        "urs.yml:6: web: expected a mapping, found a list",
        "urs.yml:3: log.levle: expected a known key, found 'levle' (did you mean 'level'?)",
        "urs.yml:4: log.format: expected one of 'text', 'json', found 'xml'",
        "urs.yml:5: auto_recovery.pm2: expected true or false, found 'maybe'",
        "urs.yml:11: jobs.pm2.cron: expected either interval or cron, not both, found both",
        "urs.yml:13: jobs.nightly: expected an interval or a cron schedule, found neither",
        "urs.yml:14: jobs.bad cron: expected a job name of letters, digits, '.', '_' and '-', "
        "found 'bad cron'",
        "urs.yml:18: jobs.backup.playbook: expected a known key, found 'playbook' "
        "(did you mean 'playbooks'?)",
        "urs.yml:18: jobs.backup.playbooks: expected a value (it is required), found none",
        "urs.yml:19: jobs.backup.cron: expected a cron expression like '*/5 * * * *' or "
        "'@hourly', found '99 * * * *' (bad minute)",
        "env PM2_CHECK_INTERVAL: jobs.pm2.interval: expected a number of milliseconds (30000) "
        "or a duration like 30s or 1m, found 'soon'",
        "env URS_LOG_ROTATE_KEEP: log.rotate_keep: expected a whole number >= 0, found '-1'",
    ]


def test_reserved_sections_are_kept_as_written(tmp_path: Path) -> None:
    cfg = load(tmp_path, "web:\n  listen: 127.0.0.1:8080\ncluster: {}\n")
    assert cfg.sections["web"] == {"listen": "127.0.0.1:8080"}
    assert cfg.sections["cluster"] == {}


def test_an_empty_file_is_the_defaults(tmp_path_factory: pytest.TempPathFactory) -> None:
    with_file, without = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    cfg = load(with_file, "")
    assert cfg.path == with_file / "urs.yml" and load(without).path is None
    assert cfg.jobs == load(without).jobs and len(cfg.jobs) == 4


def test_command_line_overrides_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        config.load(tmp_path, HOME, {"log.levl": "x", "jobs.pm2.interval": "soon",
                                     "jobs.nope.interval": "1s"})
    assert [str(p) for p in caught.value.problems] == [
        "command line: log.levl: expected a setting, found 'log.levl' "
        "(did you mean 'log.level'?)",
        "command line: jobs.pm2.interval: expected a duration like 2s, 500ms or 1m, "
        "found 'soon'",
        "command line: jobs.nope.interval: expected a setting, found 'jobs.nope.interval' "
        "(did you mean 'jobs.pm2.interval'?)",
    ]
    cfg = config.load(tmp_path, HOME, {"jobs.pm2.vars.pm2_apps": "web", "store": "/x.db",
                                       "jobs.health.vars": '{"ports": "22"}'})
    assert cfg.job("pm2").vars["pm2_apps"] == "web" and cfg.store == "/x.db"
    assert cfg.job("health").vars == {"ports": "22"}
    assert str(cfg.origin("jobs.health.vars.ports")) == "command line"


def test_playbooks_not_installed_are_notices_not_errors(tmp_path: Path) -> None:
    cfg = load(tmp_path, "jobs:\n  web: {playbooks: [health, recover-web], interval: 1m}\n")
    assert config.missing_playbooks(cfg) == [
        "jobs.web.playbooks: 'recover-web' is not installed: its runs will say so"]
    assert cfg.job("web").playbooks == ("health", "recover-web")


def test_a_later_feature_adds_a_setting_with_one_line(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.config import show, template
    from runner.config.settings import SECTIONS
    from runner.fields import Field

    monkeypatch.setitem(SECTIONS, "web", {
        "listen": Field("str", "address of the status page", default="127.0.0.1:8080")})
    assert load(tmp_path).values["web.listen"].value == "127.0.0.1:8080"
    from_env = load(tmp_path, URS_WEB_LISTEN="0.0.0.0:80")
    assert str(from_env.origin("web.listen")) == "env URS_WEB_LISTEN"
    assert from_env.sections["web"] == {"listen": "0.0.0.0:80"}
    assert "  listen: 127.0.0.1:8080" in template.render(template.default_document())
    assert "web.listen=0.0.0.0:80" in show.as_text(from_env)
    assert problems(tmp_path, "web: {lisen: x}\n") == [
        "urs.yml:1: web.lisen: expected a known key, found 'lisen' (did you mean 'listen'?)"]


def test_a_yaml_error_names_the_file_as_the_other_problems_do(tmp_path: Path) -> None:
    assert problems(tmp_path, "store: [\n") == [
        "urs.yml:2: expected valid YAML, found did not find expected node content"]
    assert problems(tmp_path, "jobs:\n  x: {playbooks: a, cron: '* * * * * *'}\n") == [
        "urs.yml:2: jobs.x.cron: expected a cron expression like '*/5 * * * *' or '@hourly', "
        "found '* * * * * *' (five fields: minute hour day-of-month month day-of-week)"]


def test_of_two_names_for_one_setting_urs_wins_then_the_first_original(tmp_path: Path) -> None:
    both = load(tmp_path, PM2_CHECK_INTERVAL="10000", PM2_HEALTH_CHECK_INTERVAL="20000")
    assert str(both.origin("jobs.pm2.interval")) == "env PM2_CHECK_INTERVAL"
    assert both.job("pm2").interval == 10.0
    urs_name = load(tmp_path, PM2_CHECK_INTERVAL="10000", URS_JOB_PM2_INTERVAL="15")
    assert urs_name.job("pm2").interval == 15.0  # a bare number is seconds in URS_* names
    assert str(urs_name.origin("jobs.pm2.interval")) == "env URS_JOB_PM2_INTERVAL"
    alias = load(tmp_path, AUTO_RECOVERY="false", URS_AUTO_RECOVERY="true")
    assert alias.auto_recovery.enabled and str(alias.origin("auto_recovery.enabled")) == \
        "env URS_AUTO_RECOVERY"


def test_ssh_settings_from_the_file_or_the_environment_relative_to_the_project(
        tmp_path: Path) -> None:
    assert load(tmp_path).ssh == config.SSHSettings(None, "strict")
    cfg = load(tmp_path, "ssh:\n  known_hosts: keys/known_hosts\n  host_key_policy: accept-new\n")
    assert cfg.ssh == config.SSHSettings(tmp_path / "keys" / "known_hosts", "accept-new")
    assert str(cfg.origin("ssh.host_key_policy")) == "urs.yml:3"
    cfg = load(tmp_path, None, URS_SSH_KNOWN_HOSTS="~/.ssh/fleet", URS_SSH_HOST_KEY_POLICY="off")
    assert cfg.ssh == config.SSHSettings(Path.home() / ".ssh" / "fleet", "off")  # env wins
