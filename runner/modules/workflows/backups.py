"""The last good copy of each workflow, an index of their sha256 and when each was taken, and
restoring a broken or missing workflow from a backup that validates and matches its checksum.

A backup is only ever taken of a file that validates, so a broken file never replaces a good
backup. A restore keeps the broken file under `<backup_dir>/broken/` with a timestamp.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.modules import ModuleCall
from runner.modules.workflows import tree as files
from runner.modules.workflows.tree import FileData, Tree
from runner.modules.workflows.validate import validate

INDEX = "index.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_index(tree: Tree) -> dict[str, dict[str, Any]]:
    """The index's entries by workflow name ({} when there is none or it is unreadable)."""
    item = tree.backups.get(INDEX)
    try:
        entries = json.loads(item.data)["files"] if item else {}
    except (ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)} \
        if isinstance(entries, dict) else {}


@dataclass(frozen=True)
class BackupState:
    name: str
    problem: str  # "" when the backup is good
    entry: dict[str, Any]


def judge(tree: Tree, index: dict[str, dict[str, Any]], name: str) -> BackupState:
    """Whether the backup of name can be restored: present, indexed, checksum, validates."""
    backup, entry = tree.backups.get(name), index.get(name, {})
    if backup is None:
        return BackupState(name, f"no backup of {name}", entry)
    if not entry:
        return BackupState(name, f"backup of {name} is not in the index", entry)
    if sha256(backup.data) != entry.get("sha256"):
        return BackupState(name, f"backup of {name} is corrupt (its sha256 does not match "
                                 "the index): not restored", entry)
    findings = validate(name, backup.text).findings
    if findings:
        return BackupState(name, f"backup of {name} does not validate ({findings[0]})", entry)
    return BackupState(name, "", entry)


def current(tree: Tree, index: dict[str, dict[str, Any]], name: str) -> str:
    """"" when name's backup is the file as it is now, else what is wrong with it. Checksums
    only: a backup equal to the file is as valid as the file."""
    backup, entry = tree.backups.get(name), index.get(name, {})
    if backup is None:
        return f"no backup of {name}"
    if sha256(backup.data) != entry.get("sha256"):
        return f"backup of {name} is corrupt (its sha256 does not match the index)"
    if entry.get("sha256") != sha256(tree.workflows[name].data):
        return f"backup of {name} is out of date"
    return ""


def refresh(call: ModuleCall, tree: Tree, names: list[str]) -> None:
    """Back up each named (valid) workflow and write the index, both atomically."""
    index = read_index(tree)
    for name in names:
        item = tree.workflows[name]
        files.write(call, tree.repo, tree.backup_path(name), item.data, item.mode)
        index[name] = {"sha256": sha256(item.data), "taken_at": now(), "mode": f"{item.mode:o}"}
    text = json.dumps({"version": 1, "files": dict(sorted(index.items()))}, indent=2) + "\n"
    files.write(call, tree.repo, tree.backup_path(INDEX), text.encode(), 0o644)


def restore(call: ModuleCall, tree: Tree, state: BackupState) -> str:
    """Put the backup in place of the workflow; the broken file is kept. Returns where."""
    name = state.name
    backup = tree.backups[name]
    existing = tree.workflows.get(name)
    kept = ""
    if existing is not None:
        stamp = now().replace(":", "").replace("-", "")
        kept = f"{tree.backup_dir}/broken/{name}.{stamp}"
        files.keep_copy(call, tree.repo, tree.workflow_path(name), kept)
    files.write(call, tree.repo, tree.workflow_path(name), backup.data, _mode(existing, state))
    return kept


def _mode(existing: FileData | None, state: BackupState) -> int:
    if existing is not None:
        return existing.mode
    try:
        return int(str(state.entry.get("mode", "644")), 8)
    except ValueError:
        return 0o644
