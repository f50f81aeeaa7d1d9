"""Is each function deployable? It parses, exports a handler the way its kind needs, and every
module it imports resolves (a relative file, a Node built-in, or a package declared in the
nearest package.json and present in node_modules). Syntax results are cached by sha256 on the
control machine, so an unchanged site is re-checked without starting Node once per file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.modules.netlify import checkcache
from runner.modules.netlify.discover import TYPESCRIPT, Function
from runner.modules.netlify.host import SiteError, SiteHost, Snapshot
from runner.modules.netlify.manifest import package_of
from runner.modules.netlify.nodejs import SCRIPT
from runner.modules.netlify.source import SourceInfo, analyse

SOURCE_EXT = (".js", ".mjs", ".cjs", *TYPESCRIPT)
# compiling one file takes V8 ~0.3 ms: a thread (~30 ms to start) pays off only for many
FILES_PER_THREAD = 1000
RESOLVE_ERRORS = {
    "MODULE_NOT_FOUND": "package {name} is declared but not installed (node_modules)",
    "ERR_MODULE_NOT_FOUND": "package {name} is declared but not installed (node_modules)",
    "ERR_PACKAGE_PATH_NOT_EXPORTED": "{spec}: package {name} does not export this path",
}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    checker: str | None = None


def _sources(functions: Sequence[Function]) -> list[tuple[Function, str]]:
    return [(f, member) for f in functions for member in f.files if member.endswith(SOURCE_EXT)]


class Validator:
    def __init__(self, host: SiteHost, snapshot: Snapshot, node: str, concurrency: int) -> None:
        self.host, self.snapshot = host, snapshot
        self.node, self.concurrency = node, concurrency
        self.sources: list[tuple[Function, str]] = []  # (function, source file) of this run
        self.infos: dict[str, SourceInfo] = {}  # by source file
        self.keys: dict[str, str] = {}  # by source file: its syntax cache key

    def run(self, functions: Sequence[Function]) -> Report:
        """Each function's problems; the whole report from the cache when nothing changed."""
        files = self.snapshot.files or {}
        self.sources = _sources(functions)
        self.infos = {m: analyse(files[m].decode("utf-8", "replace")) for _, m in self.sources}
        # what a file compiles as also depends on the package.json files ("type"), which the
        # fingerprint covers
        packages = checkcache.fingerprint(self.host, self.snapshot.folder)
        self.keys = {m: hashlib.sha256(files[m] + f"{self.infos[m].esm}{packages}".encode())
                     .hexdigest() for _, m in self.sources}
        key = self._report_key(packages)
        reports = checkcache.load("netlify-reports")
        if key in reports:
            return Report(**reports[key])
        report = self._check(functions)
        if key:
            reports[key] = dataclasses.asdict(report)
            checkcache.save("netlify-reports", reports)
        return report

    def _check(self, functions: Sequence[Function]) -> Report:
        cache = checkcache.load("netlify-syntax")
        answer, resolve = self._ask_node(cache)
        self._remember(cache, self.keys, answer["syntax"])
        report = Report(checker=answer.get("checker"))
        for function, member in self.sources:
            said = answer["syntax"].get(self._abs(member), cache.get(self.keys[member]))
            self._syntax(report, function, member, said)
        report.problems += [f"{f.name}: {f.main}: no handler: export `handler` (v1) or a "
                            "default function (v2)" for f in functions
                            if not (f.info.v1 or f.info.v2)]
        self._imports(report, resolve, answer["resolved"], answer["packages"])
        return report

    def _ask_node(self, cache: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Node's syntax verdicts (for files not in the cache) and resolutions."""
        checks = [{"file": self._abs(m), "esm": self.infos[m].esm} for _, m in self.sources
                  if m.endswith(TYPESCRIPT) or self.keys[m] not in cache]
        resolve = [{"file": self._abs(m), "spec": i.specifier, "style": i.style, "line": i.line,
                    "function": f.name} for f, m in self.sources for i in self.infos[m].imports]
        answer = self._node({"site": self.host.site, "concurrency": self.concurrency,
                             "files_per_thread": FILES_PER_THREAD, "checks": checks,
                             "resolve": resolve,
                             "packages": sorted({self._abs(m) for _, m in self.sources})})
        return answer, resolve

    def _report_key(self, packages: str) -> str:
        """A key over every input of the report; "" when one is outside what is hashed
        (a relative import out of the functions folder)."""
        if any(i.specifier.startswith((".", "/")) and not checkcache.stays_inside(m, i.specifier)
               for _, m in self.sources for i in self.infos[m].imports):
            return ""
        inputs = [sorted(self.keys.items()), [(f.name, m) for f, m in self.sources], self.node,
                  packages]
        return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()

    def _remember(self, cache: dict[str, Any], keys: Mapping[str, str],
                  syntax: Mapping[str, Any]) -> None:
        """Keep what Node said of each JavaScript file, by its sha256 (TypeScript's answer
        depends on the compiler the site has, so it is asked each time)."""
        for member, key in keys.items():
            if self._abs(member) in syntax and not member.endswith(TYPESCRIPT):
                cache[key] = syntax[self._abs(member)]
        checkcache.save("netlify-syntax", cache)

    def _abs(self, member: str) -> str:
        return posixpath.join(self.snapshot.folder, member)

    def _rel(self, path: str) -> str:
        return posixpath.relpath(path, self.snapshot.folder)

    def _node(self, job: Mapping[str, Any]) -> dict[str, Any]:
        res = self.host.call.sh("mktemp")
        if not res.ok:
            raise SiteError(f"cannot make a temporary file: {res.stderr.strip()}")
        tmp = res.stdout.strip()
        try:
            self.host.write(tmp, json.dumps(job).encode())
            res = self.host.call.sh(
                f"{shlex.quote(self.node)} --experimental-import-meta-resolve "
                f"--experimental-vm-modules --no-warnings "
                f"--input-type=module -e {shlex.quote(SCRIPT)} {shlex.quote(tmp)}")
        finally:
            self.host.call.sh(f"rm -f {shlex.quote(tmp)}")
        if not res.ok:
            raise SiteError(f"node: {_error_line(res.stderr) or res.reason}")
        answer: dict[str, Any] = json.loads(res.stdout)
        return answer

    def _syntax(self, report: Report, function: Function, member: str, found: Any) -> None:
        if found == "not checked":
            report.not_checked.append(f"{function.name}: {member}")
        elif found:
            line = f":{found['line']}" if found.get("line") else ""
            report.problems.append(f"{function.name}: {member}{line}: {found['message']}")

    def _imports(self, report: Report, asked: Sequence[Mapping[str, Any]],
                 resolved: Sequence[Mapping[str, Any]], packages: Mapping[str, Any]) -> None:
        for item, answer in zip(asked, resolved, strict=True):
            where = f"{item['function']}: {self._rel(item['file'])}:{item['line']}"
            problem = _import_problem(item, answer, packages.get(item["file"]))
            if problem:
                report.problems.append(f"{where}: {problem}")


def _error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "not found" in line]
    return (errors or lines or [""])[0][:300]


def _import_problem(item: Mapping[str, Any], answer: Mapping[str, Any],
                    package: Mapping[str, Any] | None) -> str | None:
    spec = str(item["spec"])
    if answer.get("builtin") or (answer.get("file") and spec.startswith((".", "/"))):
        return None
    if spec.startswith((".", "/")):
        return f"{spec}: no such file"
    return _package_problem(spec, answer, package)


def _package_problem(spec: str, answer: Mapping[str, Any],
                     package: Mapping[str, Any] | None) -> str | None:
    name = package_of(spec)
    if package is None:
        return f"package {name} is not declared (no package.json)"
    if package.get("error"):
        return f"{package['path']} is not valid JSON ({package['error']})"
    if name not in package["deps"]:
        return f"package {name} is not declared in {package['path']}"
    if answer.get("file"):
        return None
    error = str(answer.get("error"))
    return RESOLVE_ERRORS.get(error, "{spec}: " + error).format(spec=spec, name=name)
