"""A fake GitHub REST API on 127.0.0.1 (a free port) for the endpoints urs calls, with
GitHub's shapes (built from the OpenAPI description's own examples), status codes, `Link`
pagination and rate-limit headers. Every request and response is checked against the
description; what fails lands in `violations`, which each test asserts empty.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests import openapi_github as spec

RUNS = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"
WORKFLOWS = "/repos/{owner}/{repo}/actions/workflows"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int  # 0: drop the connection without an answer
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeGitHub:
    token: str
    repository: str = "octo/site"
    default_branch: str = "main"
    page_size: int = 100
    workflows: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # newest first
    seen: list[Seen] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # (regex on "METHOD /path", reply): the first match is answered once instead
    script: list[tuple[str, Reply]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def add_workflow(self, name: str, conclusions: list[str | None],
                     age_s: float = 600, event: str = "push") -> int:
        """A workflow with runs (newest first; None: still in progress), one per age_s."""
        wid = 1000 + len(self.workflows)
        item = spec.example("GET", WORKFLOWS)["workflows"][0]
        item |= {"id": wid, "name": name, "path": f".github/workflows/{name}", "state": "active",
                 "created_at": _stamp(age_s * (len(conclusions) + 1))}
        self.workflows.append(item)
        self.runs[wid] = [self._run(wid, name, c, age_s * (i + 1), event, len(conclusions) - i)
                          for i, c in enumerate(conclusions)]
        return wid

    def _run(self, wid: int, name: str, conclusion: str | None, age: float, event: str,
             number: int) -> dict[str, Any]:
        run = spec.example("GET", RUNS)["workflow_runs"][0]
        run |= {"id": wid * 100 + number, "workflow_id": wid, "run_number": number,
                "path": f".github/workflows/{name}", "head_branch": self.default_branch,
                "event": event, "status": "completed" if conclusion else "in_progress",
                "conclusion": conclusion, "created_at": _stamp(age), "updated_at": _stamp(age)}
        return run

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    # ---- answering ----

    def answer(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            self.violations += spec.check_request(seen.method, seen.path, seen.query, seen.body)
            for i, (pattern, reply) in enumerate(self.script):
                if re.search(pattern, f"{seen.method} {seen.path}"):
                    del self.script[i]
                    return reply
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Bad credentials")
        return self._route(seen)

    def _route(self, seen: Seen) -> Reply:
        base = f"/repos/{self.repository}"
        if seen.path != base and not seen.path.startswith(base + "/"):
            return _error(404, "Not Found")
        routes = [("GET", r"", self._repo), ("GET", r"/actions/workflows", self._page),
                  ("GET", r"/actions/workflows/(\d+)/runs", self._runs),
                  ("POST", r"/actions/runs/\d+/rerun-failed-jobs", lambda s, m: Reply(201, {})),
                  ("POST", r"/actions/workflows/[^/]+/dispatches", lambda s, m: Reply(204))]
        for method, pattern, handle in routes:
            found = re.fullmatch(pattern, seen.path.removeprefix(base))
            if found and method == seen.method:
                return handle(seen, found)
        return _error(404, "Not Found")

    def _repo(self, seen: Seen, found: re.Match[str]) -> Reply:
        repo = spec.example("GET", "/repos/{owner}/{repo}")
        repo |= {"full_name": self.repository, "default_branch": self.default_branch,
                 "language": None}
        repo.pop("source", None)
        repo.pop("parent", None)
        return Reply(200, repo)

    def _runs(self, seen: Seen, found: re.Match[str]) -> Reply:
        runs = self.runs.get(int(found.group(1)))
        if runs is None:
            return _error(404, "Not Found")
        per_page = int(seen.query.get("per_page", "30"))
        return Reply(200, {"total_count": len(runs), "workflow_runs": runs[:per_page]})

    def _page(self, seen: Seen, found: re.Match[str] | None = None) -> Reply:
        size = min(int(seen.query.get("per_page", "30")), self.page_size)
        page = int(seen.query.get("page", "1"))
        items = self.workflows[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(self.workflows):
            path = f"/repos/{self.repository}/actions/workflows"
            headers["link"] = (f'<{self.url}{path}?per_page={size}&page={page + 1}>; '
                               f'rel="next", <{self.url}{path}?per_page={size}&page='
                               f'{-(-len(self.workflows) // size)}>; rel="last"')
        return Reply(200, {"total_count": len(self.workflows), "workflows": items}, headers)

    # ---- serving ----

    def start(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _stamp(age_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age_s))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"message": message,
                          "documentation_url": "https://docs.github.com/rest"}, headers or {})


def rate_limited(status: int, *, retry_after: int | None = None,
                 reset_in: int | None = None) -> Reply:
    """GitHub's answer when a limit was hit: 403 or 429, `retry-after` or the reset time."""
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-used": "5000"}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if reset_in is not None:
        headers |= {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) +
                                                                            reset_in)}
    return _error(status, "API rate limit exceeded", headers)


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                        {k.lower(): v for k, v in self.headers.items()}, body)
            reply = fake.answer(seen)
            if reply.status == 0:  # a dropped connection: no answer at all
                self.close_connection = True
                return
            with fake.lock:
                fake.violations += spec.check_response(self.command, parts.path,
                                                       reply.status, reply.body)
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for key, value in {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
                               "x-ratelimit-reset": str(int(time.time()) + 3600),
                               "content-type": "application/json; charset=utf-8",
                               **reply.headers}.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

    return Handler
