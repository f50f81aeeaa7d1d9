"""The site on one host, through the step's connection: the same few commands on the control
machine and over SSH (one `tar` for the functions folder, `cat` for single files, chunked
writes renamed into place so a reader never sees half a manifest)."""

from __future__ import annotations

import base64
import io
import posixpath
import shlex
import tarfile
from dataclasses import dataclass

from runner.modules import ModuleCall

CHUNK = 48 * 1024  # base64 characters per command: far below one argument's limit (128 KiB)
NO_FOLDER = 3  # exit code of the read script when the functions folder is missing
MAX_SITE_BYTES = 256 * 1024 * 1024


class SiteError(Exception):
    """The site cannot be read or written (not "broken": the check itself cannot tell)."""


@dataclass(frozen=True)
class Snapshot:
    """What was read from the site in one go."""

    folder: str  # the functions folder, absolute
    files: dict[str, bytes] | None  # None: the folder does not exist


class SiteHost:
    def __init__(self, call: ModuleCall, site: str) -> None:
        self.call = call
        self.site = site

    def open_site(self) -> str | None:
        """Make the site's path absolute (as the host sees it); its netlify.toml, if any."""
        quoted = shlex.quote(self.site)
        res = self.call.sh(f"cd -- {quoted} 2>/dev/null || exit {NO_FOLDER}; pwd -P; "
                           "if [ -f netlify.toml ]; then base64 < netlify.toml; fi")
        if res.rc == NO_FOLDER:
            return None  # no site here: nor will its functions folder be
        if not res.ok:
            raise SiteError(f"cannot read {self.site}: {res.stderr.strip() or res.reason}")
        where, _, toml = res.stdout.partition("\n")
        self.site = where.strip()
        return base64.b64decode(toml).decode("utf-8", "replace") if toml.strip() else None

    def path(self, relative: str) -> str:
        return posixpath.normpath(posixpath.join(self.site, relative))

    def read(self, path: str) -> bytes | None:
        """A file's bytes; None when it does not exist."""
        quoted = shlex.quote(path)
        res = self.call.sh(f"if [ -e {quoted} ]; then base64 < {quoted}; else exit {NO_FOLDER}; fi")
        if res.rc == NO_FOLDER:
            return None
        if not res.ok:
            raise SiteError(f"cannot read {path}: {res.stderr.strip() or res.reason}")
        return base64.b64decode(res.stdout)

    def snapshot(self, folder: str) -> Snapshot:
        """Every file of the functions folder (node_modules left out), by relative path."""
        quoted = shlex.quote(folder)
        res = self.call.sh(
            f"[ -d {quoted} ] || exit {NO_FOLDER}; "
            f"tar -C {quoted} --exclude=node_modules -cf - . | base64"
        )
        if res.rc == NO_FOLDER:
            return Snapshot(folder, None)
        if not res.ok:
            raise SiteError(f"cannot read {folder}: {res.stderr.strip() or res.reason}")
        if res.stdout.startswith("[... "):  # the connection keeps the last 8 MiB of output
            raise SiteError(f"{folder} is too large to read in one go (over 6 MiB besides "
                            "node_modules): set functions_dir to the functions folder itself")
        return Snapshot(folder, _untar(base64.b64decode(res.stdout)))

    def write(self, path: str, data: bytes) -> None:
        """Write atomically: the bytes go to a temporary file beside it, renamed into place."""
        tmp = f"{path}.urs-tmp"
        encoded = base64.b64encode(data).decode()
        chunks = [encoded[i:i + CHUNK] for i in range(0, len(encoded), CHUNK)] or [""]
        for index, chunk in enumerate(chunks):
            redirect = ">" if index == 0 else ">>"
            self._sh(f"printf %s {shlex.quote(chunk)} {redirect} {shlex.quote(tmp + '.b64')}",
                     f"cannot write {path}")
        self._sh(f"base64 -d < {shlex.quote(tmp + '.b64')} > {shlex.quote(tmp)} && "
                 f"rm -f {shlex.quote(tmp + '.b64')} && mv -f {shlex.quote(tmp)} "
                 f"{shlex.quote(path)}", f"cannot write {path}",
                 cleanup=f"rm -f {shlex.quote(tmp)} {shlex.quote(tmp + '.b64')}")

    def move(self, source: str, target: str) -> None:
        self._sh(f"mv -f {shlex.quote(source)} {shlex.quote(target)}", f"cannot move {source}")

    def _sh(self, command: str, what: str, cleanup: str = "") -> None:
        res = self.call.sh(command)
        if not res.ok:
            if cleanup:
                self.call.sh(cleanup)
            raise SiteError(f"{what}: {_last_line(res.stderr) or res.reason}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _untar(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            if not member.isfile():
                continue
            total += member.size
            if total > MAX_SITE_BYTES:
                raise SiteError("the functions folder holds more than 256 MiB besides node_modules")
            handle = archive.extractfile(member)
            name = posixpath.normpath(member.name)
            files[name] = handle.read() if handle else b""
    return files
