"""One site's files as a step sees them: its functions folder, manifest and backup, the
functions found there, and the manifest's state (missing, corrupt, stale or current)."""

from __future__ import annotations

import posixpath
import tomllib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from runner.modules import ModuleCall
from runner.modules.netlify import manifest as mf
from runner.modules.netlify.discover import Function, discover, folder_from_toml
from runner.modules.netlify.host import SiteError, SiteHost, Snapshot

NO_FUNCTIONS = "no Netlify functions here"


@dataclass(frozen=True)
class ManifestState:
    data: bytes | None
    error: str = ""  # why it is corrupt
    drift: mf.Drift | None = None

    @property
    def current(self) -> bool:
        return self.data is not None and not self.error and not (self.drift and self.drift.stale)

    def describe(self, path: str) -> str:
        if self.data is None:
            return f"{path} is missing"
        if self.error:
            return f"{path} is corrupt: {self.error}"
        return f"{path} is stale ({self.drift.describe() if self.drift else ''})"


class Site:
    def __init__(self, call: ModuleCall) -> None:
        args = call.args
        self.host = SiteHost(call, str(args["site_path"]))
        self.toml_text = self.host.open_site()
        folder = args.get("functions_dir") or self._folder()
        self.folder = self.host.path(str(folder))
        self.manifest_path = posixpath.join(self.folder, str(args["manifest"]))
        self.backup_path = posixpath.join(self.folder, str(args["backup"]))

    def _folder(self) -> str:
        try:
            return folder_from_toml(self.toml_text)
        except tomllib.TOMLDecodeError as exc:
            raise SiteError(f"{self.host.path('netlify.toml')}: {exc}") from None

    def rel(self, path: str) -> str:
        return posixpath.relpath(path, self.host.site)

    @cached_property
    def snapshot(self) -> Snapshot:
        return self.host.snapshot(self.folder)

    @cached_property
    def functions(self) -> list[Function]:
        return discover(self.snapshot.files or {}, self.toml_text)

    @property
    def exists(self) -> bool:
        return self.snapshot.files is not None

    def manifest_state(self, data: bytes | None) -> ManifestState:
        if data is None:
            return ManifestState(None)
        try:
            listed = mf.parse(data)
        except mf.ManifestError as exc:
            return ManifestState(data, str(exc))
        return ManifestState(data, drift=mf.drift(listed, self.functions))

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for function in self.functions:
            kinds[function.kind] = kinds.get(function.kind, 0) + 1
        return {"functions": len(self.functions), "kinds": kinds,
                "folder": self.rel(self.folder)}
