"""Workflow files on an SSH host are read, validated and restored through its connection."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import ROOT, urs
from tests.sshd import Fleet

GOOD = (ROOT / "tests" / "data" / "workflows" / "valid" / "services.yml").read_text()


def test_recover_workflows_restores_a_file_on_an_ssh_host(
        fleet: Fleet, tmp_path: Path, store: Path) -> None:
    started = [h for h in fleet.hosts if h.process is not None]
    host = started[0] if started else fleet.start(1)[0]
    inventory = fleet.inventory(tmp_path / "inventory.ini", [host])
    repo = tmp_path / "checkout"
    (repo / ".github" / "workflows").mkdir(parents=True)
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text(GOOD)
    ci.chmod(0o640)

    def run(*args: str) -> dict[str, dict[str, object]]:
        out = urs("run", "recover-workflows", "-i", str(inventory), "--known-hosts",
                  str(fleet.known_hosts), "--json", "-e", f"repo_path={repo}", *args)
        assert "Traceback" not in out.stderr, out.stderr
        events = [json.loads(line) for line in out.stdout.splitlines()]
        steps = {e["step"]: e for e in events if e["event"] == "step_finished"}
        assert all(e["host"] == host.name for e in steps.values())
        return steps

    assert run()["backups-refreshed"]["status"] == "changed"
    ci.write_text("on: push\njobs: {a: {runs-on: x, steps: [{run: ${{ nope }}}]}}\n")
    steps = run()
    assert steps["workflows-valid"]["status"] == "recovered", steps["workflows-valid"]
    assert ci.read_text() == GOOD and ci.stat().st_mode & 0o777 == 0o640
    assert len(list((repo / ".github" / "workflows-backup" / "broken").iterdir())) == 1
