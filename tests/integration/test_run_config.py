"""`urs run` follows the one configuration: the store urs.yml names, and the auto-recovery
switches (the original system's manual override), said in the header and the recap."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import urs, write


def test_the_store_of_urs_yml_is_used_by_run_history_and_status(tmp_path: Path) -> None:
    write(tmp_path, "store: state/here.db\n", "urs.yml")
    book = write(tmp_path, "steps: [{name: a, run: 'true'}]")
    env = {k: v for k, v in os.environ.items() if k != "URS_STORE"}
    assert urs("run", str(book), cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "state" / "here.db").exists()
    assert "book" in urs("history", cwd=tmp_path, env=env).stdout
    assert "ok      book      localhost  a" in urs("status", cwd=tmp_path, env=env).stdout


def test_auto_recovery_off_reports_what_would_be_recovered(tmp_path: Path, store: Path) -> None:
    marker = tmp_path / "recovered"
    book = write(tmp_path, f"steps: [{{name: app, check: 'test -e {marker}', "
                           f"recover: 'touch {marker}'}}]")
    out = urs("run", str(book), env={"AUTO_RECOVERY": "false"})
    assert out.returncode == 1 and not marker.exists()
    header, *_, recap, last = out.stdout.splitlines()
    assert last.endswith("(exit code 1)")
    assert header.endswith("[check mode, auto-recovery is off (env AUTO_RECOVERY): "
                           "nothing is changed]")
    assert recap.startswith("check mode, auto-recovery is off (env AUTO_RECOVERY)")
    assert "would recover: touch" in out.stdout
    write(tmp_path, "auto_recovery:\n  enabled: false\n", "urs.yml")
    quiet = urs("run", str(book), "--json", cwd=tmp_path)
    started = json.loads(quiet.stdout.splitlines()[0])
    assert started["check_reason"] == "auto-recovery is off (urs.yml:2)"
    assert not marker.exists()
    assert urs("run", str(book), env={"AUTO_RECOVERY": "true"}).returncode == 0
    assert marker.exists()
