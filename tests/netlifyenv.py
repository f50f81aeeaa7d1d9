"""Netlify test parts: sites written to disk, the npm packages scripts/test installs
(@netlify/zip-it-and-ship-it, @netlify/open-api, esbuild), a local server of deployed functions,
and a fake Netlify API whose every request and response is validated against Netlify's
published OpenAPI description."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from tests.helpers import TEST_TOOLS, installed

DEFAULT_MODULES = TEST_TOOLS / "netlify-2" / "node_modules"


def npm_modules() -> Path:
    return installed("URS_TEST_NETLIFY", DEFAULT_MODULES, "the Netlify npm packages",
                     "@netlify/open-api")


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


V2 = 'export default async () => new Response("ok");\n'
V1 = "exports.handler = async () => ({ statusCode: 200, body: 'ok' });\n"

# A site like the ones the original system watched: every kind and file shape Netlify knows.
SITE = {
    "netlify.toml": '[functions]\ndirectory = "api"\n\n[functions."nightly"]\n'
                    'schedule = "@daily"\n',
    "package.json": json.dumps({"name": "site", "type": "commonjs",
                                "dependencies": {"@acme/greet": "1.0.0", "left": "1.0.0"}}),
    "node_modules/@acme/greet/package.json": json.dumps({
        "name": "@acme/greet", "exports": {".": {"import": "./esm.mjs", "require": "./cjs.cjs"},
                                           "./words": "./words.js"}}),
    "node_modules/@acme/greet/esm.mjs": "export default 'hi';\n",
    "node_modules/@acme/greet/cjs.cjs": "module.exports = 'hi';\n",
    "node_modules/@acme/greet/words.js": "module.exports = ['hi'];\n",
    "node_modules/left/package.json": json.dumps({"name": "left", "main": "index.js"}),
    "node_modules/left/index.js": "module.exports = (s) => s;\n",
    "api/hello.mjs": "import greet from '@acme/greet';\nimport words from '@acme/greet/words';\n"
                     "import { readFileSync } from 'node:fs';\n" + V2
                     + 'export const config = { path: "/api/hello" };\n',
    "api/legacy.js": "const left = require('left');\nconst path = require('path');\n" + V1,
    "api/counter.cjs": "const greet = require('@acme/greet');\n" + V1,
    "api/typed.ts": "import type { Context } from '@netlify/functions';\n"
                    "export default async (req: Request, context: Context) => "
                    "new Response('typed');\n",
    "api/report-background.mjs": V2,
    "api/cron.mjs": V2 + 'export const config = { schedule: "*/5 * * * *" };\n',
    "api/nightly.js": V1,
    "api/folder/index.js": "const { shout } = require('./lib/shout');\n"
                           "const pad = require('padder');\n" + V1,
    "api/folder/lib/shout.js": "exports.shout = (s) => s.toUpperCase();\n",
    "api/folder/package.json": json.dumps({"name": "folder", "dependencies": {"padder": "1"}}),
    "api/folder/node_modules/padder/package.json": json.dumps({"name": "padder"}),
    "api/folder/node_modules/padder/index.js": "module.exports = 1;\n",
    "api/named/named.mjs": V2,
    "api/README.md": "not a function\n",
    "api/.eslintrc.json": "{}\n",
    "api/node_modules/ignored/index.js": V1,
}
NAMES = ["counter", "cron", "folder", "hello", "legacy", "named", "nightly",
         "report-background", "typed"]


def make_site(root: Path, extra: dict[str, str] | None = None) -> Path:
    return write_tree(root, {**SITE, **(extra or {})})


class FunctionServer:
    """Deployed functions on 127.0.0.1: status and delay per path (default 200 at once)."""

    def __init__(self) -> None:
        self.behaviour: dict[str, tuple[int, float]] = {}
        self.hits: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                usual = 202 if self.path.endswith("-background") else 200
                status, delay = server.behaviour.get(self.path, (usual, 0.0))
                if delay:
                    server.release.wait(delay)  # a slow function, ended early on stop()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class OpenAPI:
    """Netlify's swagger.json: finds the operation of a request, validates bodies."""

    def __init__(self) -> None:
        spec_path = npm_modules() / "@netlify" / "open-api" / "dist" / "swagger.json"
        self.spec = json.loads(spec_path.read_text())
        self.base = self.spec["basePath"]
        self.routes = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p)
                       for p in self.spec["paths"]]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        if not path.startswith(self.base):
            raise AssertionError(f"{path} is outside {self.base}")
        rest = path[len(self.base):]
        for pattern, template in self.routes:
            if pattern.match(rest) and method.lower() in self.spec["paths"][template]:
                op: dict[str, Any] = self.spec["paths"][template][method.lower()]
                shared = self.spec["paths"][template].get("parameters", [])
                return {**op, "parameters": [*shared, *op.get("parameters", [])]}
        raise AssertionError(f"{method} {rest} is not an operation of Netlify's API")

    def check_query(self, op: dict[str, Any], query: dict[str, list[str]]) -> None:
        allowed = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        for name, values in query.items():
            if name not in allowed:
                raise AssertionError(f"{op['operationId']}: unknown query parameter {name}")
            param = allowed[name]
            kind = {"integer": r"-?\d+", "boolean": r"true|false"}.get(param["type"], r".*")
            if not re.fullmatch(kind, values[0]) or values[0] not in param.get("enum", values):
                raise AssertionError(f"{op['operationId']}: {name}={values[0]} is not a "
                                     f"{param['type']}")

    def check_response(self, op: dict[str, Any], status: int, body: Any) -> None:
        responses = op["responses"]
        answer = responses.get(str(status)) or responses.get("default")
        if answer is None:
            raise AssertionError(f"{op['operationId']} never answers {status}")
        if "schema" in answer:
            jsonschema.Draft4Validator(answer["schema"]).validate(body)


class FakeNetlify:
    """Netlify's API on 127.0.0.1 for one site, validated against the OpenAPI description.
    `deploys` newest first; `fail_next` queues error statuses for the next requests."""

    def __init__(self, site_id: str, token: str) -> None:
        self.api = OpenAPI()
        self.site_id, self.token = site_id, token
        self.deploys: list[dict[str, Any]] = []
        self.functions: dict[str, list[str]] = {}  # deploy id -> its function names
        self.hooks: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self.fail_next: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.root + self.api.base
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add_deploy(self, deploy_id: str, state: str, age_s: float, published: bool,
                   functions: list[str]) -> None:
        now = time.time()
        deploy = {"id": deploy_id, "site_id": self.site_id, "state": state, "context":
                  "production", "created_at": _stamp(now - age_s), "branch": "main"}
        if published:
            deploy["published_at"] = _stamp(now - age_s)
        if state == "error":
            deploy["error_message"] = "Build script returned non-zero exit code: 2"
        self.deploys.insert(0, deploy)
        self.functions[deploy_id] = functions

    def add_hook(self, hook_id: str) -> None:
        self.hooks.append({"id": hook_id, "title": "rebuild", "branch": "main",
                           "site_id": self.site_id, "url": f"{self.root}/build_hooks/{hook_id}",
                           "created_at": _stamp(time.time())})

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _route(self, method: str, path: str) -> tuple[int, Any]:
        site = f"/sites/{self.site_id}"
        rest = path[len(self.api.base):]
        if method == "GET" and rest == f"{site}/deploys":
            return 200, self.deploys
        if method == "GET" and rest == f"{site}/functions":
            return 200, [{"id": d, "functions": [{"name": n} for n in names]}
                         for d, names in self.functions.items()]
        if method == "GET" and rest == f"{site}/build_hooks":
            return 200, self.hooks
        restore = re.fullmatch(rf"{site}/deploys/([^/]+)/restore", rest)
        if method == "POST" and restore:
            return self._restore(restore.group(1))
        return 404, {"code": 404, "message": "Not Found"}

    def _restore(self, deploy_id: str) -> tuple[int, Any]:
        for deploy in self.deploys:
            if deploy["id"] == deploy_id:
                deploy["published_at"] = _stamp(time.time())
                return 201, deploy
        return 404, {"code": 404, "message": "Not Found"}

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        with self.lock:
            self.requests.append((method, handler.path))
        if url.path.startswith("/build_hooks/"):  # a build hook: a plain POST, outside the API
            _answer(handler, 200, None, {})
            return
        try:
            status, body, headers = self._checked(handler, method, url.path, url.query)
        except (AssertionError, jsonschema.ValidationError) as exc:
            self.violations.append(f"{method} {handler.path}: {exc}")
            status, body, headers = 400, {"code": 400, "message": "invalid request"}, {}
        _answer(handler, status, body, headers)

    def _checked(self, handler: BaseHTTPRequestHandler, method: str, path: str,
                 query: str) -> tuple[int, Any, dict[str, str]]:
        op = self.api.operation(method, path)
        self.api.check_query(op, parse_qs(query))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "Access Denied"}, {}
        if self.fail_next:
            status, headers = self.fail_next.pop(0)
            body = {"code": status, "message": "failure"}
            self.api.check_response(op, status, body)
            return status, body, headers
        status, body = self._route(method, path)
        self.api.check_response(op, status, body)
        return status, body, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                fake._serve(self, "POST")

            def log_message(self, *args: object) -> None:
                return None

        return Handler


def _answer(handler: BaseHTTPRequestHandler, status: int, body: Any,
            headers: dict[str, str]) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
