"""The `runs` state against a fake GitHub whose every request and response is checked against
GitHub's OpenAPI description: health, re-runs and dispatches (what was sent), the cap per
window across separate runs, rate limits, retries, pagination, clear errors, no token leaks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.github_fake import FakeGitHub, Reply, rate_limited
from tests.helpers import ROOT, urs

TOKEN = "ghp_fake0123456789abcdefSECRETvalue"
CORPUS = ROOT / "tests" / "data" / "workflows" / "valid"
NIGHTLY = "on:\n  schedule: [{cron: '0 * * * *'}]\n  workflow_dispatch:\njobs:\n" \
          "  a: {runs-on: ubuntu-latest, steps: [{run: make}]}\n"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    server = fake.start()
    yield fake
    server.shutdown()
    server.server_close()
    assert fake.violations == []


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout" / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text((CORPUS / "matrix.yml").read_text())
    (folder / "marketing-sync.yml").write_text((CORPUS / "dispatch-inputs.yml").read_text())
    (folder / "marketing-sync-backup.yml").write_text((CORPUS / "dispatch-inputs.yml").read_text())
    (folder / "nightly.yml").write_text(NIGHTLY)
    return tmp_path / "checkout"


def incident(github: FakeGitHub) -> None:
    """ci.yml failed its last 3 runs, marketing-sync too (it has a backup), nightly is late."""
    github.add_workflow("ci.yml", ["failure", "failure", "failure", "success"])
    github.add_workflow("marketing-sync.yml", ["failure", "timed_out", "failure"])
    github.add_workflow("marketing-sync-backup.yml", ["success"])
    github.add_workflow("nightly.yml", ["success"], age_s=4 * 3600, event="schedule")


def run(book: str, github: FakeGitHub, checkout: Path, tmp: Path, *args: str,
        **env: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    full = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": github.repository,
            "GITHUB_API_URL": github.url, "URS_STORE": str(tmp / "store.db"), **env}
    out = urs("run", book, "--json", "-e", f"repo_path={checkout}", "-e", "actionlint=",
              *args, env=full)
    assert "Traceback" not in out.stderr, out.stderr
    assert TOKEN not in out.stdout + out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    steps = {e["step"]: e for e in events if e["event"] == "step_finished"}
    return out.returncode, steps, out.stdout


def test_health_names_failing_and_overdue_workflows(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    incident(github)
    code, steps, _ = run("health-workflows", github, checkout, tmp_path)
    step = steps["workflow-runs"]
    assert code == 1 and step["status"] == "failed"
    assert "ci.yml: last 3 runs failed (latest #4 failure" in step["reason"]
    assert "marketing-sync.yml: last 3 runs failed" in step["reason"]
    assert "nightly.yml: scheduled run overdue (none for 4h, cron every 1h)" in step["reason"]
    assert "marketing-sync-backup.yml" not in step["fields"]["failing"]
    assert step["fields"]["runs"]["ci.yml"]["conclusion"] == "failure"
    assert not github.posts()
    gets = [s for s in github.seen if s.method == "GET"]
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in gets)
    assert {s.query.get("branch") for s in gets if s.path.endswith("/runs")} == {"main"}


def test_recover_reruns_dispatches_the_backup_and_the_overdue_workflow(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    incident(github)
    code, steps, _ = run("recover-workflows", github, checkout, tmp_path)
    step = steps["workflow-runs"]
    assert code == 1 and step["status"] == "failed"  # ci.yml: no backup stands in
    assert "ci.yml: failed 3 times in a row and no validated -backup workflow" in step["reason"]
    sent = sorted((s.method, s.path, json.dumps(s.body)) for s in github.posts())
    base = "/repos/octo/site/actions"
    assert sent == sorted([
        ("POST", f"{base}/runs/100004/rerun-failed-jobs", "{}"),
        ("POST", f"{base}/runs/100103/rerun-failed-jobs", "{}"),
        ("POST", f"{base}/workflows/marketing-sync-backup.yml/dispatches", '{"ref": "main"}'),
        ("POST", f"{base}/workflows/1003/dispatches", '{"ref": "main"}'),
    ])
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in github.posts())
    kinds = sorted(a["kind"] for a in step["fields"]["actions"])
    assert kinds == ["dispatch", "dispatch-backup", "rerun", "rerun"]


def test_triggers_are_capped_per_window_across_separate_runs(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.add_workflow("ci.yml", ["failure"])
    for _ in range(3):
        run("recover-workflows", github, checkout, tmp_path, "-e", "max_triggers=2")
    assert len(github.posts()) == 2
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path, "-e", "max_triggers=2")
    assert "re-run failed jobs of ci.yml run #1 withheld, 2 triggers within 24h" \
        in steps["workflow-runs"]["reason"]
    assert len(github.posts()) == 2


def test_check_mode_and_auto_trigger_off_only_report(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    incident(github)
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path, "--check")
    assert "would dispatch marketing-sync-backup.yml on main" in steps["workflow-runs"]["reason"]
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path,
                      GITHUB_AUTO_TRIGGER="false")
    # the switch makes the whole run report, as --check does
    assert "would re-run failed jobs of ci.yml run #4" in steps["workflow-runs"]["reason"]
    assert not github.posts()


def test_no_token_or_no_repository_skips_with_the_reason(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    _, steps, _ = run("health-workflows", github, checkout, tmp_path, GITHUB_TOKEN="")
    assert steps["workflow-runs"]["status"] == "skipped"
    assert steps["workflow-runs"]["reason"].startswith("no GITHUB_TOKEN or GH_TOKEN")
    _, steps, _ = run("health-workflows", github, checkout, tmp_path, GITHUB_REPOSITORY="")
    assert steps["workflow-runs"]["reason"].startswith("no repository")
    assert not github.seen


def test_gh_token_and_the_origin_remote_are_used(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    import subprocess

    github.add_workflow("ci.yml", ["success"])
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "remote", "add", "origin",
                    "git@github.com:octo/site.git"], check=True)
    _, steps, _ = run("health-workflows", github, checkout, tmp_path, GITHUB_TOKEN="",
                      GH_TOKEN=TOKEN, GITHUB_REPOSITORY="")
    assert steps["workflow-runs"]["status"] == "ok", steps["workflow-runs"]
    assert steps["workflow-runs"]["fields"]["repository"] == "octo/site"


def test_pages_are_followed(github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.page_size = 2
    for name in ("a.yml", "b.yml", "c.yml", "d.yml", "ci.yml"):
        github.add_workflow(name, ["success"])
    _, steps, _ = run("health-workflows", github, checkout, tmp_path)
    assert steps["workflow-runs"]["status"] == "ok"
    assert "ci.yml" in steps["workflow-runs"]["fields"]["runs"]
    pages = [s for s in github.seen if s.path.endswith("/actions/workflows")]
    assert [p.query.get("page", "1") for p in pages] == ["1", "2", "3"]


@pytest.mark.parametrize("reply", [rate_limited(403, reset_in=1), rate_limited(429, retry_after=1),
                                   Reply(500, {"message": "Server Error"}), Reply(0)],
                         ids=["403-rate-limit", "429-retry-after", "500", "dropped"])
def test_limits_and_server_errors_are_waited_out(
        reply: Reply, github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.add_workflow("ci.yml", ["success"])
    github.script.append((r"GET .*/actions/workflows$", reply))
    _, steps, _ = run("health-workflows", github, checkout, tmp_path)
    assert steps["workflow-runs"]["status"] == "ok", steps["workflow-runs"]
    pages = [s for s in github.seen if s.path.endswith("/actions/workflows")]
    assert len(pages) == 2


def test_a_limit_longer_than_the_step_may_wait_is_an_error_naming_the_wait(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.script.append((r"GET ", rate_limited(403, reset_in=3600)))
    _, steps, _ = run("health-workflows", github, checkout, tmp_path)
    step = steps["workflow-runs"]
    assert step["status"] == "error"
    assert re.search(r"GET /repos/octo/site: rate limited by GitHub; the limit resets in "
                     r"3[56]\d\ds, more than the \d+s this step may wait", step["reason"])


@pytest.mark.parametrize(("env", "expected"), [
    ({"GITHUB_REPOSITORY": "octo/missing"},
     "GET /repos/octo/missing: 404 Not Found: octo/missing or this workflow does not exist"),
    ({"GITHUB_TOKEN": "ghp_wrong0123456789"},
     "GET /repos/octo/site: 401 Bad credentials: the token is invalid or expired"),
], ids=["404", "401"])
def test_refusals_are_clear_errors(env: dict[str, str], expected: str, github: FakeGitHub,
                                   checkout: Path, tmp_path: Path) -> None:
    _, steps, stdout = run("health-workflows", github, checkout, tmp_path, **env)
    assert steps["workflow-runs"]["status"] == "error"
    assert expected in steps["workflow-runs"]["reason"]
    assert "ghp_wrong0123456789" not in stdout


def test_403_on_a_dispatch_names_the_permission(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.add_workflow("nightly.yml", ["success"], age_s=4 * 3600, event="schedule")
    github.script.append((r"POST .*/dispatches$", Reply(403, {
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest"})))
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path)
    reason = steps["workflow-runs"]["reason"]
    assert steps["workflow-runs"]["status"] == "error"
    assert "POST /repos/octo/site/actions/workflows/1000/dispatches: 403" in reason
    assert "the token may lack `actions: write` on octo/site" in reason


def test_the_token_never_reaches_the_output_store_or_history(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    incident(github)
    run("recover-workflows", github, checkout, tmp_path)  # fields, actions, stdout recorded
    echo = Reply(404, {"message": f"no such token {TOKEN}"})  # a server that echoes it back
    github.script.append((r"GET /repos/octo/site$", echo))
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path)
    assert steps["workflow-runs"]["status"] == "error"
    assert "no such token ********" in steps["workflow-runs"]["reason"]
    store = (tmp_path / "store.db").read_bytes()
    assert TOKEN.encode() not in store
    history = urs("history", "--json", env={"URS_STORE": str(tmp_path / "store.db")})
    assert history.returncode == 0 and TOKEN not in history.stdout


def test_the_fake_is_held_to_the_description() -> None:
    from tests import openapi_github as spec

    dispatch = "/repos/octo/site/actions/workflows/ci.yml/dispatches"
    assert spec.check_request("POST", dispatch, {}, {"ref": "main"}) == []
    assert spec.check_request("POST", dispatch, {}, {"reff": "main"})
    assert spec.check_request("POST", dispatch, {}, None)
    assert spec.check_request("GET", "/repos/octo/site/actions/workflows", {"limit": "5"}, None)
    assert spec.check_request("DELETE", "/repos/octo/site/actions/runs/1", {}, None)
    runs = "/repos/octo/site/actions/workflows/1/runs"
    assert spec.check_response("GET", runs, 200, {"total_count": 1, "workflow_runs": [{}]})
    assert spec.check_response("POST", dispatch, 204, {"unexpected": True})
    assert spec.check_response("GET", runs, 500, {"message": 5})


def test_max_failures_and_the_branch_come_from_the_environment_or_variables(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    github.add_workflow("ci.yml", ["failure", "failure", "failure"])
    _, steps, _ = run("health-workflows", github, checkout, tmp_path, "-e",
                      "github_branch=release", GITHUB_MAX_FAILURES="4")
    assert steps["workflow-runs"]["status"] == "ok", steps["workflow-runs"]
    assert steps["workflow-runs"]["fields"]["branch"] == "release"
    runs = [s for s in github.seen if s.path.endswith("/runs")]
    assert runs and all(s.query["branch"] == "release" for s in runs)
    assert not any(s.path == "/repos/octo/site" for s in github.seen)  # no default-branch call
    _, steps, _ = run("health-workflows", github, checkout, tmp_path, GITHUB_MAX_FAILURES="3")
    assert steps["workflow-runs"]["status"] == "failed"


def test_the_module_itself_masks_a_token_the_server_echoes(
        github: FakeGitHub, checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import run_book

    for name, value in {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": github.repository,
                        "GITHUB_API_URL": github.url}.items():
        monkeypatch.setenv(name, value)
    github.script.append((r"GET /repos/octo/site$", Reply(404, {"message": TOKEN})))
    out = run_book(ROOT / "playbooks" / "health-workflows.yml",  # no CLI redactor here
                   extra={"repo_path": str(checkout), "actionlint": ""})
    step = out.steps["workflow-runs"]
    assert step.status == "error" and "404 ********" in step.reason
    assert TOKEN not in step.reason


def test_connection_errors_are_retried_then_an_error(checkout: Path, tmp_path: Path) -> None:
    from tests.sshd import free_port

    dead = FakeGitHub(TOKEN)
    dead.url = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    _, steps, _ = run("health-workflows", dead, checkout, tmp_path)
    step = steps["workflow-runs"]
    assert step["status"] == "error"
    assert "GET /repos/octo/site: ConnectError" in step["reason"]


def test_triggers_made_before_a_refusal_still_count(
        github: FakeGitHub, checkout: Path, tmp_path: Path) -> None:
    incident(github)
    github.script.append((r"POST .*/dispatches$", Reply(403, {"message": "Forbidden"})))
    _, steps, _ = run("recover-workflows", github, checkout, tmp_path)
    step = steps["workflow-runs"]
    assert step["status"] == "failed"
    assert [a["kind"] for a in step["fields"]["actions"]] == ["rerun", "rerun"]
    assert "failed: POST /repos/octo/site/actions/workflows/" in step["reason"]
