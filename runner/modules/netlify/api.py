"""A small client of Netlify's API (stdlib only, imported only by steps that call it): waits
out rate limits within the step's deadline, retries 5xx answers, and turns 401/403/404 into
sentences. The token goes into the Authorization header and nowhere else."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

from runner.modules import ModuleCall

RETRIES = 3
FIRST_WAIT_S = 0.5
MAX_RATE_WAIT_S = 60.0
CLEAR = {
    401: "the token was refused (401): check {env}",
    403: "the token may not do this (403): {what}",
    404: "not found (404): {what} (is the site id right?)",
}


class APIError(Exception):
    """The API could not be used (not "the site is broken": the check itself cannot tell)."""


class NetlifyAPI:
    def __init__(self, call: ModuleCall, token: str) -> None:
        self.call = call
        self.base = str(call.args["api_url"]).rstrip("/")
        self.token = token
        self.env = str(call.args["token_env"])

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path_or_url: str, body: Any = None) -> Any:
        return self.request("POST", path_or_url, body=body)

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        url = path if "://" in path else self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        what = f"{method} {path}"
        for attempt in range(RETRIES + 1):
            status, headers, data = self._send(method, url, body)
            if status < 400:
                return json.loads(data) if data.strip() else None
            if status == 429 or (status >= 500 and attempt < RETRIES):
                self.call.sleep(self._wait(status, headers, attempt, what))
                continue
            raise APIError(self._message(status, data, what))
        raise APIError(f"{what}: still rate limited after {RETRIES + 1} tries")

    def _send(self, method: str, url: str, body: Any) -> tuple[int, Message, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the API's URL is configured
            url, data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                     "Content-Type": "application/json", "User-Agent": "urs"})
        left = self.call.remaining()
        try:
            timeout = min(30.0, left or 30.0)
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise APIError(f"{method} {url}: {reason}") from None

    def _wait(self, status: int, headers: Message, attempt: int, what: str) -> float:
        if status != 429:
            return float(FIRST_WAIT_S * 2 ** attempt)
        reset = str(headers.get("X-RateLimit-Reset") or "")
        retry = str(headers.get("Retry-After") or "")
        wait = float(retry) if retry.isdigit() else (
            float(reset) - time.time() if reset.isdigit() else FIRST_WAIT_S * 2 ** attempt)
        left = self.call.remaining()
        most = MAX_RATE_WAIT_S if left is None else min(MAX_RATE_WAIT_S, left)
        if wait > most:
            raise APIError(f"{what}: rate limited by Netlify for {wait:.0f}s more; urs waits "
                           f"at most {most:.0f}s (the step's timeout, at most 60s)")
        return max(float(wait), 0.0)

    def _message(self, status: int, data: bytes, what: str) -> str:
        if status in CLEAR:
            return f"Netlify API: {CLEAR[status].format(env=self.env, what=what)}"
        try:
            message = str(json.loads(data).get("message", ""))
        except (ValueError, AttributeError):
            message = data[:200].decode("utf-8", "replace")
        return f"Netlify API: {what}: {status} {message}".strip()
