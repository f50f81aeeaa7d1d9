"""Validation of a site's functions against real Node.js: syntax (JavaScript, and TypeScript
through the site's esbuild or typescript), handlers, imports resolved as Node resolves them,
and the caches that spare an unchanged site the work."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.integration.test_netlify_site import check
from tests.netlifyenv import V1, V2, make_site, npm_modules, write_tree


def test_a_valid_site_passes_and_typescript_without_a_compiler_is_not_checked(
        tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    out = check(tmp_path, "valid", site)
    assert out.status("s") == "ok", out.steps["s"].reason
    assert "TypeScript not checked" in out.steps["s"].stdout
    assert out.steps["s"].fields["not_checked"] == ["typed: typed.ts"]


@pytest.mark.parametrize("compiler", ["esbuild", "typescript"])
def test_typescript_is_checked_with_the_sites_compiler(tmp_path: Path, compiler: str) -> None:
    site = make_site(tmp_path / "site", {"api/broken.ts": V2 + "const x: number = (;\n"})
    (site / "node_modules" / compiler).symlink_to(npm_modules() / compiler)
    out = check(tmp_path, "valid", site)
    assert out.status("s") == "failed"
    problems = out.steps["s"].fields["problems"]
    assert len(problems) == 1 and problems[0].startswith("broken: broken.ts:2: ")
    assert out.steps["s"].fields["typescript_checker"] == compiler
    assert out.steps["s"].fields["not_checked"] == []  # typed.ts was checked, and passed


BROKEN = {
    "api/syntax.js": "export default async () => {\n  return (\n}\n",  # ESM in .js
    "api/syntax-cjs.cjs": "exports.handler = async () => {\n  return (\n}\n",
    "api/undeclared.mjs": "import x from 'not-declared';\n" + V2,
    "api/uninstalled.mjs": "import x from 'declared-missing';\n" + V2,
    "api/relative.js": "\n\nconst h = require('./lib/nothere');\n" + V1,
    "api/unexported.mjs": "import x from '@acme/greet/secret';\n" + V2,
    "api/nohandler.js": "const x = 1;\nmodule.exports = { x };\n",
    "api/commented.js": "// require('ghost')\n/* import x from 'ghost2' */\n" + V1,
    "package.json": json.dumps({"name": "site", "dependencies": {
        "@acme/greet": "1", "left": "1", "declared-missing": "1"}}),
    "node_modules/not-declared/package.json": json.dumps({"name": "not-declared"}),
    "node_modules/not-declared/index.js": "",
}


def test_each_problem_names_the_function_file_and_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", BROKEN)
    out = check(tmp_path, "valid", site)
    problems = out.steps["s"].fields["problems"]
    assert out.status("s") == "failed"
    expected = [
        "syntax: syntax.js:3: SyntaxError: Unexpected token '}'",
        "syntax-cjs: syntax-cjs.cjs:3: SyntaxError: Unexpected token '}'",
        f"undeclared: undeclared.mjs:1: package not-declared is not declared in "
        f"{site / 'package.json'}",
        "uninstalled: uninstalled.mjs:1: package declared-missing is declared but not "
        "installed (node_modules)",
        "relative: relative.js:3: ./lib/nothere: no such file",
        "unexported: unexported.mjs:1: @acme/greet/secret: package @acme/greet does not export "
        "this path",
        "nohandler: nohandler.js: no handler: export `handler` (v1) or a default function (v2)",
    ]
    assert sorted(problems) == sorted(expected)
    assert "ghost" not in out.steps["s"].reason


def test_files_compiled_in_threads_give_the_same_problems(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.modules.netlify import validate

    site = make_site(tmp_path / "site", BROKEN)
    one = check(tmp_path, "valid", site).steps["s"].fields["problems"]
    monkeypatch.setattr(validate, "FILES_PER_THREAD", 2)  # a thread for every 2 files
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing cached
    threads = check(tmp_path, "valid", site).steps["s"].fields["problems"]
    assert len(one) == 7 and sorted(threads) == sorted(one)


def test_changes_beside_the_functions_are_seen_despite_the_caches(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", {"api/syntax.js": BROKEN["api/syntax.js"],
                                         "api/toplevel.js": "return;\n" + V1})
    first = check(tmp_path, "valid", site).steps["s"]
    shutil.move(site / "node_modules", tmp_path / "nm")
    second = check(tmp_path, "valid", site).steps["s"]
    assert "syntax: syntax.js:3: SyntaxError" in first.reason
    assert "syntax: syntax.js:3: SyntaxError" in second.reason
    assert "not installed" in second.reason and "not installed" not in first.reason
    assert "toplevel" not in first.reason  # `return` at the top: fine in CommonJS
    shutil.move(tmp_path / "nm", site / "node_modules")
    (site / "package.json").write_text(json.dumps({"name": "site", "type": "module",
                                                   "dependencies": {"left": "1"}}))
    third = check(tmp_path, "valid", site).steps["s"]  # same files, now ES modules
    assert "toplevel: toplevel.js:1: SyntaxError: Illegal return statement" in third.reason


def test_an_unchanged_site_is_rechecked_without_node_and_an_install_is_seen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", {k: BROKEN[k] for k in (
        "api/uninstalled.mjs", "api/syntax.js", "package.json")})
    first = check(tmp_path, "valid", site).steps["s"]
    broken_node = tmp_path / "bin"
    broken_node.mkdir()
    (broken_node / "node").write_text("#!/bin/sh\necho 'node: broken' >&2\nexit 9\n")
    (broken_node / "node").chmod(0o755)
    monkeypatch.setenv("PATH", f"{broken_node}:{os.environ['PATH']}")
    again = check(tmp_path, "valid", site).steps["s"]  # from the cache: node is never run
    assert again.status == "failed" and again.reason == first.reason
    write_tree(site, {"node_modules/declared-missing/package.json": '{"name": "x"}',
                      "node_modules/declared-missing/index.js": ""})
    installed = check(tmp_path, "valid", site).steps["s"]  # the install changes the key
    assert installed.status == "error" and "node: broken" in installed.reason
    monkeypatch.undo()
    fixed = check(tmp_path, "valid", site).steps["s"]
    assert "declared-missing" not in fixed.reason and "syntax.js:3" in fixed.reason
