"""The deployed site: probes of functions served by a local HTTP server, and Netlify's API
served by a fake whose requests and responses are validated against @netlify/open-api."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_book, urs, write
from tests.netlifyenv import NAMES, FakeNetlify, FunctionServer, make_site

TOKEN = "nfp_s3cr3tT0kenValue1234"  # a fake; the tests check it never leaks
SITE_ID = "site-1"


@pytest.fixture
def functions() -> Iterator[FunctionServer]:
    server = FunctionServer()
    yield server
    server.stop()


@pytest.fixture
def api() -> Iterator[FakeNetlify]:
    fake = FakeNetlify(SITE_ID, TOKEN)
    yield fake
    fake.stop()
    assert fake.violations == []


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = make_site(tmp_path / "site")
    book = write(tmp_path, f"steps:\n  - {{name: m, netlify: {{state: manifest, "
                           f"site_path: {path}}}}}\n", "make.yml")
    assert run_book(book).status("m") == "changed"
    return path


def run(book: str, site: Path, store: Path, *extra: str,
        env: dict[str, str] | None = None) -> tuple[int, dict[str, dict[str, Any]], str]:
    out = urs("run", book, "--json", "-e", f"netlify_site={site}", *extra,
              env={"URS_STORE": str(store), **(env or {})})
    events = [json.loads(line) for line in out.stdout.splitlines()]
    steps = {e["step"]: e for e in events if e["event"] == "step_finished"}
    return out.returncode, steps, out.stdout + out.stderr


def test_probes_report_each_function_and_fail_after_consecutive_failures(
        site: Path, functions: FunctionServer, tmp_path: Path) -> None:
    functions.behaviour = {"/.netlify/functions/legacy": (500, 0.0),
                           "/.netlify/functions/counter": (200, 2.5),
                           "/.netlify/functions/report-background": (202, 0.0)}
    # a limit far from both the slow function and a loaded machine's ordinary answers
    args = ("-e", f"netlify_url={functions.url}", "-e", "netlify_max_latency=1s")
    env = {"NETLIFY_MAX_FAILURES": "3"}
    for attempt in (1, 2):
        code, steps, _ = run("health-netlify", site, tmp_path / "s.db", *args, env=env)
        assert code == 0 and steps["endpoints"]["status"] == "ok"
        assert f"legacy: status 500, expected 200 ({attempt} of 3 in a row)" in \
            steps["endpoints"]["stdout"]
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db", *args, env=env)
    endpoint = steps["endpoints"]
    assert code == 1 and endpoint["status"] == "failed"
    assert "legacy: status 500, expected 200 (3 of 3 in a row)" in endpoint["reason"]
    assert "counter: answered in" in endpoint["reason"] and "limit 1000 ms" in endpoint["reason"]
    assert [p["name"] for p in endpoint["fields"]["probes"]] == ["counter", "legacy"]
    assert endpoint["fields"]["probed"] == len(NAMES) - 2  # scheduled: not probed
    report = {line.split()[0]: line for line in endpoint["stdout"].splitlines()[3:]}
    assert sorted(report) == sorted(set(NAMES) - {"cron", "nightly"})
    assert report["report-background"].startswith(
        "report-background /.netlify/functions/report-background: 202 in ")
    assert report["hello"].startswith("hello /api/hello: 200 in ")
    assert not any("cron" in hit or "nightly" in hit for hit in functions.hits)


def test_a_probe_that_passes_again_resets_its_count(
        site: Path, functions: FunctionServer, tmp_path: Path) -> None:
    functions.behaviour = {"/.netlify/functions/legacy": (500, 0.0)}
    args = ("-e", f"netlify_url={functions.url}", "-e", "netlify_max_failures=2")
    run("health-netlify", site, tmp_path / "s.db", *args)
    functions.behaviour = {}
    _, steps, _ = run("health-netlify", site, tmp_path / "s.db", *args)
    assert steps["endpoints"]["fields"]["failing"] == {}
    functions.behaviour = {"/.netlify/functions/legacy": (500, 0.0)}
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db", *args)
    assert code == 0 and steps["endpoints"]["fields"]["failing"] == {"legacy": 1}


def api_env(api: FakeNetlify, **more: str) -> dict[str, str]:
    return {"NETLIFY_AUTH_TOKEN": TOKEN, "NETLIFY_SITE_ID": SITE_ID,
            "NETLIFY_API_URL": api.url, **more}


def test_without_a_token_the_deploy_steps_are_skipped(site: Path, tmp_path: Path) -> None:
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db",
                         env={"NETLIFY_AUTH_TOKEN": ""})
    assert code == 0
    assert steps["deploy"]["status"] == "skipped"
    assert steps["deploy"]["reason"] == "no Netlify token (NETLIFY_AUTH_TOKEN is not set)"


def test_health_reads_the_latest_deploy_and_compares_functions(
        site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("d1", "ready", 7200, True, NAMES)
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db", env=api_env(api))
    assert code == 0, steps["deploy"]
    assert steps["deploy"]["stdout"] == "deploy d1 is ready (2.0 h old)"
    api.add_deploy("d2", "ready", 60, True, [n for n in NAMES if n != "typed"])
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db", env=api_env(api))
    assert code == 1 and steps["deploy"]["reason"] == "not deployed: typed"
    assert ("GET", "/api/v1/sites/site-1/deploys?production=true&per_page=20") in api.requests


def test_recover_restores_the_last_ready_deploy_and_caps_actions_per_window(
        site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("d1", "ready", 7200, True, NAMES)
    restores = []
    for attempt in (1, 2, 3):
        api.add_deploy(f"bad{attempt}", "error", 0, False, [])  # newer than any restore
        code, steps, out = run("recover-netlify", site, tmp_path / "s.db", env=api_env(api))
        restores = [p for m, p in api.requests if p.endswith("/restore")]
        if attempt < 3:
            assert steps["deploy"]["status"] == "recovered", str(steps["deploy"])
            assert steps["deploy"]["fields"]["restored"] == "d1"
            assert "deploy bad" in steps["deploy"]["reason"] and "is error" in out
        assert TOKEN not in out
    assert code == 1
    assert "not acting: 2 rollbacks or builds of site site-1 within 24h already" in \
        steps["deploy"]["reason"]
    assert restores == ["/api/v1/sites/site-1/deploys/d1/restore"] * 2
    assert TOKEN.encode() not in (tmp_path / "s.db").read_bytes()


def test_recover_prefers_the_deploy_that_passed_its_probes(
        site: Path, api: FakeNetlify, functions: FunctionServer, tmp_path: Path) -> None:
    env = api_env(api, NETLIFY_SITE_URL=functions.url, NETLIFY_MAX_FAILURES="1")
    api.add_deploy("good", "ready", 9000, True, NAMES)
    code, steps, _ = run("recover-netlify", site, tmp_path / "s.db", env=env)
    assert code == 0 and steps["deploy"]["fields"]["good_deploy"] == "good"
    api.add_deploy("newer", "ready", 600, True, NAMES)
    api.add_deploy("newest", "ready", 60, True, NAMES)
    functions.behaviour = {"/.netlify/functions/legacy": (500, 0.0)}
    code, steps, _ = run("recover-netlify", site, tmp_path / "s.db", env=env)
    assert code == 0 and steps["endpoints"]["status"] == "failed" and steps["endpoints"]["ignored"]
    assert steps["deploy"]["status"] == "recovered", steps["deploy"]
    assert steps["deploy"]["fields"]["restored"] == "good"


def test_a_build_hook_is_triggered_when_no_deploy_is_ready(
        site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("bad", "error", 60, False, [])
    api.add_hook("hook-1")
    code, steps, _ = run("recover-netlify", site, tmp_path / "s.db",
                         env=api_env(api, NETLIFY_BUILD_HOOK="hook-1"))
    assert code == 1 and steps["deploy"]["status"] == "failed"  # in error until built
    assert steps["deploy"]["fields"]["build_hook"] == "hook-1"
    assert ("POST", "/build_hooks/hook-1") in api.requests
    assert steps["deploy"]["fields"]["actions"] == [{"kind": "netlify-build",
                                                     "target": "site-1"}]


def test_api_errors_are_clear_and_retried_and_the_token_never_leaks(
        site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("d1", "ready", 60, True, NAMES)
    code, steps, out = run("health-netlify", site, tmp_path / "s.db",
                           env=api_env(api, NETLIFY_AUTH_TOKEN="wrong-token-value"))
    assert steps["deploy"]["status"] == "error"
    assert "the token was refused (401): check NETLIFY_AUTH_TOKEN" in steps["deploy"]["reason"]
    api.fail_next = [(502, {}), (429, {"Retry-After": "1"}), (503, {})]
    code, steps, out = run("health-netlify", site, tmp_path / "s.db", env=api_env(api))
    assert code == 0 and steps["deploy"]["status"] == "ok", steps["deploy"]
    assert len([r for r in api.requests if r[1].startswith("/api/v1/sites/site-1/deploys")]) >= 4
    code, steps, out = run("health-netlify", site, tmp_path / "s.db",
                           env=api_env(api, NETLIFY_SITE_ID="nope"))
    assert "not found (404): GET /sites/nope/deploys (is the site id right?)" in \
        steps["deploy"]["reason"]
    api.fail_next = [(403, {})]
    _, steps, out = run("health-netlify", site, tmp_path / "s.db", env=api_env(api))
    assert "the token may not do this (403): GET /sites/site-1/deploys" in steps["deploy"]["reason"]
    api.fail_next = [(429, {"Retry-After": "3600"})]
    _, steps, out = run("health-netlify", site, tmp_path / "s.db", env=api_env(api))
    assert steps["deploy"]["status"] == "error"
    assert "rate limited by Netlify for 3600s more; urs waits at most 60s" in \
        steps["deploy"]["reason"]
    assert TOKEN not in out and TOKEN.encode() not in (tmp_path / "s.db").read_bytes()


def test_the_site_id_comes_from_netlify_state_json(
        site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("d1", "ready", 60, True, NAMES)
    (site / ".netlify").mkdir()
    (site / ".netlify" / "state.json").write_text(json.dumps({"siteId": SITE_ID}))
    env = {"NETLIFY_AUTH_TOKEN": TOKEN, "NETLIFY_API_URL": api.url}
    code, steps, _ = run("health-netlify", site, tmp_path / "s.db", env=env)
    assert code == 0 and steps["deploy"]["fields"]["deploy_id"] == "d1"
    (site / ".netlify" / "state.json").unlink()
    _, steps, _ = run("health-netlify", site, tmp_path / "s.db", env=env)
    assert steps["deploy"]["status"] == "skipped"
    assert steps["deploy"]["reason"] == "no Netlify site id (site_id, or .netlify/state.json)"


def test_the_token_is_masked_wherever_it_would_show(tmp_path: Path) -> None:
    book = write(tmp_path, "steps:\n  - {name: leak, run: 'echo token=$NETLIFY_AUTH_TOKEN; "
                           "exit 1'}\n")
    out = urs("run", str(book), "--json", env={"URS_STORE": str(tmp_path / "s.db"),
                                                "NETLIFY_AUTH_TOKEN": TOKEN})
    assert "token=********" in out.stdout
    assert TOKEN not in out.stdout + out.stderr
    assert TOKEN.encode() not in (tmp_path / "s.db").read_bytes()


def test_check_mode_restores_nothing(site: Path, api: FakeNetlify, tmp_path: Path) -> None:
    api.add_deploy("d1", "ready", 7200, True, NAMES)
    api.add_deploy("bad", "error", 0, False, [])
    code, steps, _ = run("recover-netlify", site, tmp_path / "s.db", "--check",
                         env=api_env(api))
    assert code == 1 and steps["deploy"]["status"] == "failed"
    assert "deploy bad is error" in steps["deploy"]["reason"]
    assert "would recover: netlify" in steps["deploy"]["reason"]
    assert [m for m, _ in api.requests] == ["GET"] * len(api.requests)


def test_the_fake_api_rejects_what_netlify_would_not_accept_or_send(api: FakeNetlify) -> None:
    import urllib.error
    import urllib.request

    def get(path: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - the fake on 127.0.0.1
            api.root + path, headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert get("/api/v1/sites/site-1/deploys?per_page=20") == 200
    assert get("/api/v1/sites/site-1/deploys?per_page=many") == 400
    assert get("/api/v1/sites/site-1/deploys?state=sleepy") == 400
    assert get("/api/v1/sites/site-1/nothing") == 400
    api.deploys.append({"id": 7, "state": "ready"})  # an id must be a string
    assert get("/api/v1/sites/site-1/deploys") == 400
    assert len(api.violations) == 4
    api.violations.clear()
