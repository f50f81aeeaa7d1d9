"""The netlify module on a site's files, against real files: discovery, the manifest
(deterministic, atomic, stale), recovery and the backup, over SSH too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Outcome, run_book, urs, write
from tests.netlifyenv import NAMES, V1, V2, make_site
from tests.sshd import Fleet


def step(state: str, site: Path, **args: object) -> str:
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in args.items())
    return f"{{netlify: {{state: {state}, site_path: {site}{extra}}}}}"


def check(tmp: Path, state: str, site: Path, **args: object) -> Outcome:
    book = write(tmp, f"steps:\n  - {{name: s, check: {step(state, site, **args)}}}\n")
    return run_book(book)


def apply(tmp: Path, state: str, site: Path, check_mode: bool = False,
          **args: object) -> Outcome:
    book = write(tmp, f"steps:\n  - {{name: s, check: {step(state, site, **args)}, "
                      f"recover: {step(state, site, **args)}}}\n")
    return run_book(book, check_mode=check_mode)


def manifest_of(site: Path) -> dict[str, dict[str, object]]:
    body = json.loads((site / "api" / "functions-manifest.json").read_text())
    return {f["name"]: f for f in body["functions"]}


def test_functions_are_found_as_netlify_finds_them(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", {"api/hello.js": V1, "api/named.js": V1})
    out = apply(tmp_path, "manifest", site)
    assert out.status("s") == "recovered", out.steps["s"].reason
    found = manifest_of(site)
    assert sorted(found) == NAMES  # no README, dotfile or node_modules; custom folder used
    assert found["hello"]["main"] == "hello.js"  # .js wins among files of one name
    assert found["named"]["main"] == "named/named.mjs"  # a folder wins over a file
    assert found["folder"]["main"] == "folder/index.js"
    assert found["hello"]["routes"] == ["/.netlify/functions/hello"]
    assert found["cron"]["kind"] == "scheduled" and found["cron"]["schedule"] == "*/5 * * * *"
    assert found["nightly"]["kind"] == "scheduled" and found["nightly"]["schedule"] == "@daily"
    assert found["report-background"]["kind"] == "background"
    assert found["typed"]["runtime"] == "typescript" and found["typed"]["api_version"] == 2
    assert found["legacy"]["api_version"] == 1
    assert found["legacy"]["dependencies"] == {"packages": ["left", "path"], "files": []}


def test_v2_config_path_is_the_route(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    apply(tmp_path, "manifest", site)
    assert manifest_of(site)["hello"]["routes"] == ["/api/hello"]


def test_the_manifest_is_written_the_same_way_and_atomically(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    apply(tmp_path, "manifest", site)
    first = (site / "api" / "functions-manifest.json").read_bytes()
    (site / "api" / "functions-manifest.json").unlink()
    apply(tmp_path, "manifest", site)
    assert (site / "api" / "functions-manifest.json").read_bytes() == first
    assert not [p for p in (site / "api").iterdir() if "urs-tmp" in p.name]
    body = json.loads(first)
    assert set(body) == {"version", "functions"}  # nothing that changes from run to run
    assert set(body["functions"][0]) == {
        "name", "main", "kind", "api_version", "background", "routes", "schedule", "runtime",
        "size", "sha256", "dependencies"}


def test_stale_manifest_names_each_function(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    apply(tmp_path, "manifest", site)
    assert check(tmp_path, "manifest", site).status("s") == "ok"
    (site / "api" / "added.mjs").write_text(V2)
    (site / "api" / "counter.cjs").unlink()
    (site / "api" / "legacy.js").write_text(V1 + "// edited\n")
    (site / "api" / "folder" / "lib" / "shout.js").write_text("exports.shout = 1;\n")
    out = check(tmp_path, "manifest", site)
    assert out.status("s") == "failed"
    assert out.steps["s"].reason == ("api/functions-manifest.json is stale (added: added; "
                                     "removed: counter; changed: folder, legacy)")
    assert out.steps["s"].fields["added"] == ["added"]


def test_recover_regenerates_and_keeps_a_corrupt_manifest_aside(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    (site / "api" / "functions-manifest.json").write_text("{not json")
    out = apply(tmp_path, "manifest", site)
    assert out.status("s") == "recovered"
    assert "corrupt: not JSON" in out.steps["s"].reason
    assert (site / "api" / "functions-manifest.json.broken").read_text() == "{not json"
    assert sorted(manifest_of(site)) == NAMES


def test_check_mode_says_what_would_change_and_changes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    out = apply(tmp_path, "manifest", site, check_mode=True)
    assert out.status("s") == "failed"
    assert "would recover" in out.steps["s"].reason
    assert "functions-manifest.json is missing" in out.steps["s"].reason
    assert not (site / "api" / "functions-manifest.json").exists()


def test_auto_regenerate_off_only_reports(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    out = urs("run", "recover-netlify", "-e", f"netlify_site={site}", "--json",
              env={"URS_STORE": str(tmp_path / "s.db"), "NETLIFY_AUTO_REGENERATE": "false"})
    assert out.returncode == 1
    # the switch makes the whole run report, as --check does (the module says the same alone)
    assert '"check_reason": "auto-recovery is off (env NETLIFY_AUTO_REGENERATE)"' in out.stdout
    assert "would recover" in out.stdout
    assert not (site / "api" / "functions-manifest.json").exists()


def test_restore_from_the_backup_when_the_site_cannot_be_read(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    keep = tmp_path / "keep"
    keep.mkdir()
    args = {"manifest": str(keep / "m.json"), "backup": str(keep / "b.json")}
    apply(tmp_path, "manifest", site, **args)
    apply(tmp_path, "backup", site, **args)
    good = (keep / "b.json").read_bytes()
    shutil.rmtree(site / "api")
    (keep / "m.json").write_text("[]")
    out = apply(tmp_path, "manifest", site, **args)
    # the manifest is back; the functions folder is not, and the step says so
    assert out.status("s") == "failed"
    assert out.steps["s"].reason == "still failing after recovery: the functions folder api " \
                                    "does not exist, but ../keep/m.json lists 9 functions"
    assert out.steps["s"].fields["action"] == "restored"
    assert (keep / "m.json").read_bytes() == good
    assert (keep / "m.json.broken").read_text() == "[]"


def test_no_usable_backup_fails_with_both_reasons(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "m.json").write_text("[]")
    (keep / "b.json").write_text("{")
    shutil.rmtree(site / "api")
    out = apply(tmp_path, "manifest", site, manifest=str(keep / "m.json"),
                backup=str(keep / "b.json"))
    assert out.status("s") == "failed"
    assert "cannot regenerate" in out.steps["s"].reason
    assert "backup ../keep/b.json is corrupt: not JSON" in out.steps["s"].reason


def test_backup_is_refreshed_only_from_a_current_valid_manifest(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    apply(tmp_path, "manifest", site)
    (site / "api" / "late.mjs").write_text(V2)  # the manifest is stale now
    stale = apply(tmp_path, "backup", site)
    assert stale.status("s") == "failed"
    assert "not refreshing the backup" in stale.steps["s"].reason
    assert "stale (added: late)" in stale.steps["s"].reason
    apply(tmp_path, "manifest", site)
    (site / "api" / "late.mjs").write_text("export default (\n")  # current, but invalid
    apply(tmp_path, "manifest", site)
    invalid = apply(tmp_path, "backup", site)
    assert "not refreshing the backup: late: late.mjs" in invalid.steps["s"].reason
    assert not (site / "api" / "functions-manifest.backup.json").exists()
    (site / "api" / "late.mjs").write_text(V2)
    apply(tmp_path, "manifest", site)
    assert apply(tmp_path, "backup", site).status("s") == "recovered"
    backup = site / "api" / "functions-manifest.backup.json"
    assert backup.read_bytes() == (site / "api" / "functions-manifest.json").read_bytes()


@pytest.mark.parametrize("state", ["manifest", "valid", "backup"])
def test_a_machine_without_functions_passes(tmp_path: Path, state: str) -> None:
    out = check(tmp_path, state, tmp_path / "nothing")
    assert out.status("s") == "ok"
    assert out.steps["s"].stdout.startswith("no Netlify functions here")
    required = check(tmp_path, state, tmp_path / "nothing", required=True)
    assert required.status("s") == "failed"


def test_over_ssh_through_the_connection(fleet: Fleet, tmp_path: Path) -> None:
    (host,) = fleet.start(1)
    inventory = fleet.inventory(tmp_path / "inventory.ini", [host])
    site = make_site(tmp_path / "site", {"api/broken.mjs": "import x from './gone.mjs';\n" + V2})
    args = ("-i", str(inventory), "--known-hosts", str(fleet.known_hosts), "--json",
            "-e", f"netlify_site={site}")
    env = {"URS_STORE": str(tmp_path / "s.db")}
    recover = urs("run", "recover-netlify", *args, env=env)
    assert f'"host": "{host.name}", "step": "manifest", "status": "recovered"' in recover.stdout
    assert "broken" in manifest_of(site)
    health = urs("run", "health-netlify", *args, env=env)
    assert health.returncode == 1
    assert "broken: broken.mjs:1: ./gone.mjs: no such file" in health.stdout


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Folders made read-only even for root (chattr +i), writable again afterwards."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_folder_fails_the_recovery_and_says_why(
        tmp_path: Path, immutable: list[Path]) -> None:
    site = make_site(tmp_path / "site")
    subprocess.run(["chattr", "+i", str(site / "api")], check=True)
    immutable.append(site / "api")
    assert check(tmp_path, "valid", site).status("s") == "ok"  # reading still works
    out = apply(tmp_path, "manifest", site)
    assert out.status("s") == "failed"
    reason = out.steps["s"].reason
    assert reason.startswith(f"recovery failed: cannot write {site}/api/functions-manifest.json")
    assert "Operation not permitted" in reason
    assert not [p for p in (site / "api").iterdir() if "urs-tmp" in p.name]
    assert not (site / "api" / "functions-manifest.json").exists()


def test_a_folder_too_large_to_read_is_an_error_that_says_so(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    (site / "api" / "video.bin").write_bytes(os.urandom(7 * 1024 * 1024))
    out = check(tmp_path, "manifest", site)
    assert out.status("s") == "error"
    assert "too large to read in one go" in out.steps["s"].reason
