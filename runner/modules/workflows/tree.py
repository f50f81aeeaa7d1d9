"""A checkout's workflow files and their backups, read and written through the host's
connection, so the same code serves the control machine and SSH hosts.

Reading is one command: the workflow and backup folders as a tar stream in base64 (names,
modes and contents in one round trip, whatever the file names hold). Writing is atomic: a
temporary file beside the target, its mode set, fsync, rename, fsync of the folder.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
from dataclasses import dataclass, field

from runner.modules import ModuleCall

WORKFLOWS = ".github/workflows"
SUFFIXES = (".yml", ".yaml")
MAX_WRITE = 96 * 1024  # one shell argument holds at most 128 KiB; workflows are far smaller


class TreeError(Exception):
    """A folder could not be read or a file could not be written (the reason says which)."""


@dataclass(frozen=True)
class FileData:
    data: bytes
    mode: int

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass
class Tree:
    repo: str
    backup_dir: str
    repo_exists: bool = True
    has_workflows: bool = False
    workflows: dict[str, FileData] = field(default_factory=dict)
    backups: dict[str, FileData] = field(default_factory=dict)

    def workflow_path(self, name: str) -> str:
        return f"{WORKFLOWS}/{name}"

    def backup_path(self, name: str) -> str:
        return f"{self.backup_dir}/{name}"


def read(call: ModuleCall, repo: str, backup_dir: str) -> Tree:
    dirs = " ".join(shlex.quote(d) for d in (WORKFLOWS, backup_dir))
    script = (
        f"cd {shlex.quote(repo)} 2>/dev/null || {{ echo no-repo; exit 0; }}; set --; "
        f'for d in {dirs}; do [ -d "$d" ] && set -- "$@" "$d" && echo "dir $d"; done; '
        'echo data; [ $# -eq 0 ] || '
        'find "$@" -maxdepth 1 -type f -print0 | tar -P --null -T - -cf - | base64 -w0'
    )
    res = call.sh(script)
    if not res.ok:
        raise TreeError(f"cannot read {repo}: {res.reason or res.stderr.strip()}")
    head, _, blob = res.stdout.partition("data\n")
    tree = Tree(repo, backup_dir, repo_exists=head.strip() != "no-repo")
    tree.has_workflows = f"dir {WORKFLOWS}" in head.splitlines()
    if blob.strip():
        try:
            _unpack(tree, base64.b64decode(blob.strip(), validate=True))
        except (ValueError, tarfile.TarError) as exc:  # cut at the connection's output limit
            raise TreeError(f"cannot read the workflow folders of {repo}: {exc}") from None
    return tree


def _unpack(tree: Tree, tar_bytes: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        for member in archive.getmembers():
            folder, _, name = member.name.rpartition("/")
            handle = archive.extractfile(member)
            if handle is None:
                continue
            item = FileData(handle.read(), member.mode & 0o7777)
            if folder == WORKFLOWS and name.endswith(SUFFIXES):
                tree.workflows[name] = item
            elif folder == tree.backup_dir.rstrip("/"):
                tree.backups[name] = item


def write(call: ModuleCall, repo: str, path: str, data: bytes, mode: int) -> None:
    """Replace path (relative to repo) atomically with data and mode."""
    if len(data) > MAX_WRITE:
        raise TreeError(f"{path}: {len(data)} bytes, more than urs writes ({MAX_WRITE})")
    target = shlex.quote(path)
    script = (
        f"cd {shlex.quote(repo)} && d=$(dirname {target}) && mkdir -p \"$d\" && "
        f't="$d/.urs-tmp.$$" && {{ printf %s {base64.b64encode(data).decode()} | base64 -d '
        f'> "$t" && chmod {mode:o} "$t" && sync "$t" && mv -f "$t" {target} && sync "$d"; }} '
        '|| { rm -f "$t"; exit 1; }'
    )
    _run(call, script, f"cannot write {path}")


def keep_copy(call: ModuleCall, repo: str, source: str, target: str) -> None:
    """Copy source to target (mode and time kept), making target's folder."""
    script = (f"cd {shlex.quote(repo)} && mkdir -p \"$(dirname {shlex.quote(target)})\" && "
              f"cp -p {shlex.quote(source)} {shlex.quote(target)}")
    _run(call, script, f"cannot keep {source} as {target}")


def _run(call: ModuleCall, script: str, what: str) -> None:
    res = call.sh(script)
    if not res.ok:
        detail = res.stderr.strip().splitlines()[-1:] or [res.reason]
        raise TreeError(f"{what}: {detail[0]}")
