"""docs/configuration.md documents every setting and variable, and its examples are true: the
example file loads, the file with mistakes gives exactly the errors shown, the crontab block in
docs/service.md has the markers `urs schedule --install` writes."""

from __future__ import annotations

from pathlib import Path

from runner import config
from runner.config import crontab
from runner.config.settings import ALIASES, DROPPED, JOB_FIELDS, LEGACY, SECTIONS, env_name
from tests.helpers import ROOT, urs
from tests.integration.test_docs import blocks

DOC = ROOT / "docs" / "configuration.md"


def test_every_setting_and_variable_is_documented() -> None:
    text = DOC.read_text()
    names = ["store", "URS_STORE", "URS_CONFIG", *ALIASES, *DROPPED]
    names += [n.name for n in LEGACY]
    for section, fields in SECTIONS.items():
        names.append(section)
        names += [f"{section}.{key}" for key in fields]
        names += [env_name(f"{section}.{key}") for key in fields]
    names += [f"jobs.NAME.{key}" for key in JOB_FIELDS]
    names += [env_name(f"jobs.NAME.{key}") for key in JOB_FIELDS]
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing


def test_the_example_file_loads(tmp_path: Path) -> None:
    (example,) = [b for b in blocks(DOC, "yaml") if b.startswith("# urs.yml\n")]
    (tmp_path / "urs.yml").write_text(example)
    cfg = config.load(tmp_path, {"HOME": str(tmp_path)})
    assert [j.name for j in cfg.enabled_jobs] == ["pm2", "health"]
    assert cfg.job("health").cron == "*/5 * * * *"
    assert cfg.job("pm2").vars == {"max_restart_attempts": 5}
    assert cfg.auto_recovery.netlify is False


def test_the_ssh_example_loads(tmp_path: Path) -> None:
    (example,) = [b for b in blocks(DOC, "yaml") if b.startswith("# urs.yml (a fleet")]
    (tmp_path / "urs.yml").write_text(example)
    cfg = config.load(tmp_path, {"HOME": str(tmp_path)})
    assert cfg.ssh == config.SSHSettings(tmp_path / "inventory" / "known_hosts", "strict")
    assert cfg.job("fleet").inventory == (str(tmp_path / "inventory" / "hosts.ini"),)


def test_the_errors_shown_are_the_errors_given(tmp_path: Path) -> None:
    (broken,) = [b for b in blocks(DOC, "yaml") if b.startswith("# urs.yml (with mistakes)")]
    (shown,) = [b for b in blocks(DOC, "text") if b.startswith("error:")]
    (tmp_path / "urs.yml").write_text(broken)
    out = urs("config", cwd=tmp_path, env={"PM2_CHECK_INTERVAL": "soon", "URS_CONFIG": ""})
    assert out.returncode == 2 and out.stderr == shown


def test_the_crontab_block_shown_has_the_markers_written() -> None:
    text = (ROOT / "docs" / "service.md").read_text()
    for line in crontab.block("/srv/app/urs.yml", []):
        assert f"\n{line}\n" in text
