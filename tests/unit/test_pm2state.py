"""Reading PM2's answers: banners before the JSON, missing fields, every status, garbage."""

from __future__ import annotations

import json

import pytest

from runner.modules.pm2.state import (
    MARK,
    STATUSES,
    App,
    PM2Error,
    dump_names,
    parse_jlist,
    parse_probe,
    probe_script,
)

SECRET = "s3cr3t-in-pm2-env"


def _app(name: str, status: str, **extra: object) -> dict[str, object]:
    env = {"status": status, "restart_time": 2, "unstable_restarts": 1, "DB_PASSWORD": SECRET,
           "env": {"DB_PASSWORD": SECRET}}
    return {"name": name, "pm_id": 0, "pid": 42, "pm2_env": env,
            "monit": {"memory": 50 * 1024 * 1024, "cpu": 1.5}, **extra}


def test_jlist_after_cold_start_banners() -> None:
    text = ("[PM2] Spawning PM2 daemon with pm2_home=/tmp/x\n[PM2] PM2 Successfully daemonized\n"
            + json.dumps([_app("web", "online")]) + "\n")
    (app,) = parse_jlist(text)
    assert app == App("web", 0, 42, "online", 2, 1, 50.0, 1.5, None)
    assert SECRET not in json.dumps(app.summary())


def test_missing_fields_never_crash() -> None:
    (app,) = parse_jlist(json.dumps([{"name": "bare", "pm2_env": {"status": "online"}}]))
    assert app.pid is None and not app.online and app.restarts == 0 and app.exit_code is None
    (odd,) = parse_jlist(json.dumps([{"pm2_env": "not a mapping", "monit": None}]))
    assert odd.name == "?" and odd.status == "unknown"


@pytest.mark.parametrize("status", STATUSES)
def test_every_status(status: str) -> None:
    (app,) = parse_jlist(json.dumps([_app("a", status)]))
    assert app.online == (status == "online")
    assert app.down == (status in {"stopped", "errored", "one-launch-status"})


def test_waiting_restart_without_pid_is_down() -> None:
    (app,) = parse_jlist(json.dumps([{**_app("a", "waiting restart"), "pid": 0}]))
    assert app.down


def test_unparseable_jlist_is_an_error_with_the_text() -> None:
    with pytest.raises(PM2Error, match=r"printed no process list: .*connect ECONNREFUSED"):
        parse_jlist("[PM2][ERROR] connect ECONNREFUSED /tmp/rpc.sock\n")
    with pytest.raises(PM2Error):
        parse_jlist('[{"name": broken json')


def test_probe_output() -> None:
    assert not parse_probe(f"{MARK} missing\n").installed
    dead = parse_probe(f"{MARK} dead 123 /srv/pm2 home\n")
    assert dead.installed and not dead.alive and dead.home == "/srv/pm2 home"
    alive = parse_probe(f"{MARK} alive 99 /p\n" + json.dumps([_app("w", "online")]))
    assert alive.alive and alive.app("w") is not None and alive.app("x") is None
    with pytest.raises(PM2Error):
        parse_probe("bash: syntax error")


def test_probe_output_says_why_the_daemon_is_dead() -> None:
    dead = parse_probe(f"{MARK} dead 123 /p\npid 123 is a zombie (killed, never reaped)\n")
    assert not dead.alive and dead.problem == "pid 123 is a zombie (killed, never reaped)"


def test_probe_script_is_one_sh_command_and_calls_pm2_only_once_alive() -> None:
    script = probe_script("/opt/my pm2/pm2", None)
    assert script.startswith("sh -c ") and script.endswith("'/opt/my pm2/pm2' ''")
    assert script.count("jlist") == 1
    assert script.index("jlist") > script.index("URS-PM2 alive")


def test_dump_names() -> None:
    assert dump_names('[{"name": "a"}, {"name": "b"}]') == ["a", "b"]
    for bad in ("[]", "", "{}", "not json", '[{"nope": 1}]'):
        assert dump_names(bad) is None
