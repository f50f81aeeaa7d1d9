"""Netlify's own bundler, @netlify/zip-it-and-ship-it (pinned, installed by scripts/test),
lists the functions of the same test sites as the netlify module: same names, main files,
routes, schedules and kinds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_book, write
from tests.netlifyenv import V1, V2, make_site, npm_modules, write_tree

LIST = """
import { listFunctions } from %s;
const [folder, config] = process.argv.slice(1);
const found = await listFunctions(folder, { parseISC: true, config: JSON.parse(config) });
console.log(JSON.stringify(found));
"""


def zisi(folder: Path, config: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    main = npm_modules() / "@netlify" / "zip-it-and-ship-it" / "dist" / "main.js"
    out = subprocess.run(["node", "--input-type=module", "-e", LIST % json.dumps(str(main)),
                          str(folder), json.dumps(config)],
                         capture_output=True, text=True, check=True, timeout=60)
    listed = {}
    for f in json.loads(out.stdout):
        routes = [r["literal"] for r in f.get("routes") or []] or \
            [f"/.netlify/functions/{f['name']}"]
        kind = "scheduled" if f.get("schedule") else \
            "background" if f["name"].endswith("-background") else "http"
        main_file = str(Path(f["mainFile"]).relative_to(folder))
        listed[f["name"]] = (main_file, routes, f.get("schedule"), kind, f["runtimeAPIVersion"])
    return listed


def ours(tmp: Path, site: Path, folder: Path) -> dict[str, tuple[Any, ...]]:
    book = write(tmp, f"steps:\n  - {{name: m, netlify: {{state: manifest, "
                      f"site_path: {site}}}}}\n", "list.yml")
    assert run_book(book).status("m") == "changed"
    body = json.loads((folder / "functions-manifest.json").read_text())
    return {f["name"]: (f["main"], f["routes"], f["schedule"], f["kind"], f["api_version"])
            for f in body["functions"]}


SHAPES = {
    "rich": ({}, "api"),
    "precedence": ({"api/hello.js": V1, "api/hello.cjs": V1, "api/named.js": V1,
                    "api/index-dir/index.mjs": V2, "api/both/both.ts": V2,
                    "api/both/index.js": V1, "api/empty-dir/readme.txt": "x"}, "api"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_module_lists_what_netlify_lists(tmp_path: Path, shape: str) -> None:
    extra, folder = SHAPES[shape]
    site = make_site(tmp_path / "site", extra)
    expected = zisi(site / folder, {"nightly": {"schedule": "@daily"}})
    assert ours(tmp_path, site, site / folder) == expected


def test_the_default_folder_and_the_legacy_setting(tmp_path: Path) -> None:
    site = write_tree(tmp_path / "site", {"netlify/functions/a.mjs": V2,
                                          "netlify/functions/b/index.cjs": V1})
    assert ours(tmp_path, site, site / "netlify" / "functions") == \
        zisi(site / "netlify" / "functions", {})
    legacy = write_tree(tmp_path / "legacy", {"netlify.toml": '[build]\nfunctions = "fns"\n',
                                              "fns/c.js": V1})
    assert ours(tmp_path, legacy, legacy / "fns") == zisi(legacy / "fns", {})
    based = write_tree(tmp_path / "based", {"netlify.toml": '[build]\nbase = "app"\n',
                                            "app/netlify/functions/d.mjs": V2})
    assert ours(tmp_path, based, based / "app" / "netlify" / "functions") == \
        zisi(based / "app" / "netlify" / "functions", {})
