"""The netlify module's pieces without Node or a site: static reading of sources, and
recovery through a scripted connection where the site cannot be read."""

from __future__ import annotations

import base64
import json

import pytest

from runner.connections import CommandResult
from runner.fields import with_defaults
from runner.modules import Mode, ModuleCall
from runner.modules.netlify import Netlify
from runner.modules.netlify.host import SiteError
from runner.modules.netlify.source import analyse
from tests.helpers import Scripted


def test_comments_and_type_imports_are_not_dependencies() -> None:
    info = analyse("""// const x = require('ghost');
/* import y from "ghost2"; */
import type { Context } from '@netlify/functions';
import { a } from "./a.mjs";
const url = "http://example.com/*not a comment*/";
const b = await import('b-pkg');
export { helper } from './helper.js';
export default async () => new Response(url);
export const config = { path: ["/one", "/two"], schedule: '@hourly' };
""")
    assert [(i.specifier, i.line) for i in info.imports] == [
        ("./a.mjs", 4), ("b-pkg", 6), ("./helper.js", 7)]
    assert info.routes == ("/one", "/two") and info.schedule == "@hourly"
    assert info.v2 and not info.v1 and info.esm


def test_v1_handlers_and_the_schedule_helper() -> None:
    info = analyse("const { schedule } = require('@netlify/functions');\n"
                   "module.exports.handler = schedule('0 * * * *', async () => ({}));\n")
    assert info.v1 and not info.v2 and not info.esm
    assert info.schedule == "0 * * * *"
    assert [(i.specifier, i.style) for i in info.imports] == [("@netlify/functions", "require")]
    assert analyse("module.exports = { handler };").v1
    assert analyse("export async function handler() {}").v1
    assert not analyse("const handler = 1; module.exports = { other };").v1


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


GOOD = json.dumps({"version": 1, "functions": [{"name": "hello"}]})


def test_an_unreadable_site_is_restored_from_the_backup() -> None:
    fake = Scripted([
        (r"^cd -- ", CommandResult(0, "/srv/site\n", "")),
        (r"tar -C", CommandResult(2, "", "tar: ./hello.js: Cannot open: Permission denied\n")),
        (r"backup\.json ]; then base64", CommandResult(0, _b64(GOOD), "")),
        (r"manifest\.json ]; then base64", CommandResult(0, _b64("{broken"), "")),
        (r"^printf|^base64 -d|^mv -f", CommandResult(0, "", "")),
    ])
    module = Netlify()
    args = with_defaults(module.fields, {"state": "manifest", "site_path": "/srv/site"})
    result = module.run(ModuleCall(args, Mode.APPLY, fake, "web-1", {}))
    assert result.ok and result.changed, result.reason
    assert result.stdout.startswith("restored netlify/functions/functions-manifest.json from ")
    assert "Permission denied" in result.stdout
    moved = [c for c in fake.calls if c.startswith("mv -f")]
    assert moved[0] == ("mv -f /srv/site/netlify/functions/functions-manifest.json "
                        "/srv/site/netlify/functions/functions-manifest.json.broken")
    written = "".join(c.split()[2].strip("'") for c in fake.calls if c.startswith("printf"))
    assert base64.b64decode(written).decode() == GOOD


def test_an_unreadable_site_is_an_error_in_check_mode() -> None:
    fake = Scripted([
        (r"^cd -- ", CommandResult(0, "/srv/site\n", "")),
        (r"manifest\.json ]; then base64", CommandResult(0, _b64(GOOD), "")),
        (r"tar -C", CommandResult(2, "", "tar: ./hello.js: Cannot open: Permission denied\n")),
    ])
    module = Netlify()
    args = with_defaults(module.fields, {"state": "manifest", "site_path": "/srv/site"})
    with pytest.raises(SiteError, match="Permission denied"):  # the step is an error
        module.run(ModuleCall(args, Mode.CHECK, fake, "web-1", {}))
