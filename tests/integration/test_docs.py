"""Every command shown in README.md and docs/ runs, with the exit code the text gives it
(`# exit N` after a command; 0 when not said), in a fresh project folder holding the
playbooks the text defines. Every built-in playbook runs; the module in docs/extending.md works."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_book, urs, write
from tests.pm2env import PM2Env

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(path: Path, kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == kind]


def commands(path: Path) -> list[tuple[list[str], int]]:
    found = []
    for body in blocks(path, "sh"):
        for line in body.splitlines():
            text, _, note = line.partition(" # exit ")
            if text.startswith("urs "):
                found.append((shlex.split(text)[1:], int(note) if note else 0))
    for body in blocks(path, "crontab"):
        for line in body.splitlines():
            found.append((cron_command(line), 0))
    return found


def cron_command(line: str) -> list[str]:
    """The urs arguments of a crontab line (`cd /srv/app && /path/to/urs run health >> log`)."""
    text = " ".join(line.split()[5:]).rsplit("&&", 1)[-1]
    words = shlex.split(re.split(r"\s+(?:>>|>|\|)", text)[0])
    start = next(i for i, word in enumerate(words) if word.rsplit("/", 1)[-1] == "urs")
    return words[start + 1:]


# this machine's own disk, memory and load must not decide a test: thresholds that cannot flip
STEADY = ("-e", "max_disk_percent=100", "-e", "min_memory_mb=0", "-e", "max_load_per_cpu=1e9")


def steady(args: list[str]) -> list[str]:
    """A command as written, with STEADY thresholds when it runs a health playbook."""
    if args[:1] == ["run"] and any(a.startswith("health") for a in args[1:2]):
        return [*args, *STEADY]
    return args


def test_docs_show_commands() -> None:
    assert sum(len(commands(p)) for p in DOCS) > 30


def pm2_incident(pm2: PM2Env) -> dict[str, str]:
    """docs/pm2.md's situation: an app was running and saved, then PM2 died with it."""
    pm2.start("web.js", "web")
    pm2.wait_status("web", "online")
    pm2.pm2("save")
    pm2.crash_everything()
    return {"PM2_HOME": pm2.env["PM2_HOME"], "PATH": pm2.env["PATH"]}


def workflows_incident(project: Path, env: dict[str, str]) -> dict[str, str]:
    """docs/workflows.md's situation: a workflow was backed up, then broken; no API token."""
    env = {**env, "GITHUB_TOKEN": "", "GH_TOKEN": ""}
    folder = project / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text((ROOT / "tests/data/workflows/valid/matrix.yml").read_text())
    assert urs("run", "recover-workflows", cwd=project, env=env).returncode == 0
    (folder / "ci.yml").write_text("on: push\njobs: {a: {runs-on: x, steps: [{run: '${{ x'}]}}\n")
    return env


def netlify_incident(site: Path) -> None:
    """docs/netlify.md's situation: a function was added after the manifest was written."""
    from tests.netlifyenv import V2, make_site

    make_site(site, {"api/functions-manifest.json": '{"version": 1, "functions": []}'})
    (site / "api" / "late.mjs").write_text(V2)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_command_in_the_docs_runs(path: Path, tmp_path: Path, pm2: PM2Env) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "inventory", project / "inventory")
    # the original system's files, as in a project that moves to urs (docs/configuration.md)
    shutil.copytree(ROOT / "tests" / "data" / "original", project, dirs_exist_ok=True)
    (project / "playbooks").mkdir()
    for body in blocks(path, "yaml"):
        name = re.match(r"name: ([\w-]+)\n", body)
        if name and "steps:" in body:
            write(project / "playbooks", body, f"{name.group(1)}.yml")
    env = {"URS_STORE": str(tmp_path / "store.db"), "HOME": str(tmp_path),
           # `urs schedule --install` writes a stand-in crontab in HOME, never a real one
           "PATH": f"{ROOT / 'tests' / 'fakebin'}:{os.environ['PATH']}"}
    if path.name == "pm2.md":
        env |= pm2_incident(pm2)
    if path.name == "workflows.md":
        env = workflows_incident(project, env)
    if path.name == "netlify.md":
        netlify_incident(project / "site")
    for args, code in commands(path):
        out = urs(*steady(args), cwd=project, env=env)
        assert "Traceback" not in out.stderr, (args, out.stderr)
        assert out.returncode == code, (args, out.stdout, out.stderr)


BUILTIN = sorted((ROOT / "playbooks").glob("*.yml"))
# on a fresh machine (no pm2 on the PATH) a system that is not there is said, not failed
FRESH_TEXT = {"recover-pm2": "pm2 is not installed here", "health-pm2": "pm2 is not installed here"}


@pytest.mark.parametrize("path", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_builtin_playbooks_check_and_run_on_a_fresh_machine(path: Path, tmp_path: Path) -> None:
    assert urs("check", path.stem).returncode == 0
    out = urs(*steady(["run", path.stem, "--json"]), env={"URS_STORE": str(tmp_path / "s.db")})
    assert out.returncode == 0, out.stdout
    assert FRESH_TEXT.get(path.stem, '"event": "run_finished"') in out.stdout


def test_recovering_pm2_where_it_is_required_but_missing_fails(tmp_path: Path) -> None:
    out = urs("run", "recover-pm2", "-e", "pm2_required=true",
              env={"URS_STORE": str(tmp_path / "s.db")})
    assert out.returncode == 1
    assert "pm2 is not installed (not found on PATH)" in out.stdout


def test_the_default_jobs_pass_on_a_fresh_machine(tmp_path: Path) -> None:
    """The original's four jobs, as `urs init` writes them: a system that is not on the
    machine (no pm2, no workflows folder, no functions folder) is no failure."""
    import json

    assert urs("init", cwd=tmp_path).returncode == 0
    # the health job checks this machine's real disk, memory and load: thresholds that hold
    # whatever else the machine runs (as STEADY does for `urs run`)
    steady_vars = {"max_disk_percent": 100, "min_memory_mb": 0, "max_load_per_cpu": 10**6}
    once = urs("daemon", "--once", cwd=tmp_path,
               env={"URS_STORE": str(tmp_path / "s.db"),
                    "URS_JOB_HEALTH_VARS": json.dumps(steady_vars)})
    assert once.returncode == 0, once.stdout + once.stderr


def test_health_system_reports_each_check(tmp_path: Path) -> None:
    import json

    out = urs("run", "health-system", "--json", "-e", 'ports="1"', *STEADY,
              "-e", "http_url=http://127.0.0.1:1/", env={"URS_STORE": str(tmp_path / "s.db")})
    steps = {e["step"]: e for e in map(json.loads, out.stdout.splitlines())
             if e["event"] == "step_finished"}
    assert out.returncode == 1
    assert steps["disk-space"]["status"] == "ok" and "% used" in steps["disk-space"]["stdout"]
    assert steps["memory"]["status"] == "ok" and "MB available" in steps["memory"]["stdout"]
    assert steps["load"]["status"] == "ok" and "load" in steps["load"]["stdout"]
    assert steps["ports"]["status"] == "failed"
    assert steps["ports"]["reason"].startswith("127.0.0.1:1 is closed")
    assert steps["http-endpoint"]["status"] == "failed"
    tight = urs("run", "health-system", "--json", "-e", "max_disk_percent=0", "--tags", "disk",
                env={"URS_STORE": str(tmp_path / "s.db")})
    assert tight.returncode == 1 and "over 0% full" in tight.stdout


def test_the_module_in_extending_md_works(tmp_path: Path) -> None:
    (source,) = blocks(ROOT / "docs" / "extending.md", "python")
    namespace: dict[str, object] = {}
    exec(compile(source, "extending.md", "exec"), namespace)  # noqa: S102 - our own docs
    marker_module = namespace["Marker"]()  # type: ignore[operator]
    marker = tmp_path / "marker"
    book = write(tmp_path, f"""
steps:
  - {{name: probe, check: {{marker: {{path: {marker}}}}}, ignore_errors: true}}
  - {{name: make, needs: probe, marker: {{path: {marker}}}}}
  - {{name: again, needs: make, marker: {{path: {marker}}}}}
""")
    out = run_book(book, modules={"marker": marker_module})
    assert out.status("probe") == "failed" and out.steps["probe"].reason == "no marker"
    assert out.status("make") == "changed" and marker.exists()
    assert out.status("again") == "ok"


def test_reference_documents_every_field() -> None:
    from runner.load.schema import PLAYBOOK_FIELDS, STEP_FIELDS
    from runner.modules import registry

    text = (ROOT / "docs" / "playbooks.md").read_text()
    names = [*PLAYBOOK_FIELDS, *STEP_FIELDS, "run", "check", "recover"]
    for module in registry().values():
        assert f"### `{module.name}`" in text
        names += list(module.fields)
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing
