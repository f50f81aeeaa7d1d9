"""The GitHub REST API, as the `runs` state needs it: one httpx client per step, timeouts set,
rate limits honoured within the step's deadline, 5xx and connection errors retried with
backoff, pages followed through `Link` headers, and 401/403/404 said plainly.

httpx is imported here only, and this module only by a step that calls the API.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from runner.modules import ModuleCall

RETRIES = 3
BACKOFF_S = 0.5
MAX_PAGES = 50
MAX_UNBOUNDED_WAIT_S = 60.0  # a step without a timeout still never waits longer for a limit
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class ApiError(Exception):
    """The API refused or failed: the message names the endpoint, never the token."""


class GitHub:
    def __init__(self, call: ModuleCall, token: str, api_url: str, repository: str,
                 timeout: float) -> None:
        self.call = call
        self.repository = repository
        self.client = httpx.Client(
            base_url=api_url.rstrip("/"), timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "urs",
                     "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28"})

    def close(self) -> None:
        self.client.close()

    def repo_path(self, tail: str = "") -> str:
        return f"/repos/{self.repository}{tail}"

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def pages(self, path: str, key: str, **params: Any) -> list[Any]:
        """Every item of a paginated list, following `Link: <...>; rel="next"`."""
        items: list[Any] = []
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self.request("GET", url, params=params if url == path else None)
            items += response.json().get(key, [])
            found = _NEXT.search(response.headers.get("link", ""))
            url = found.group(1) if found else None
        return items

    def post(self, path: str, body: dict[str, Any]) -> None:
        self.request("POST", path, json=body)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(RETRIES + 1):
            self.call.remaining()  # raises once the run is stopped or time is up
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise ApiError(f"{method} {_bare(path)}: {type(exc).__name__}: {exc}") \
                        from None
                self.call.sleep(BACKOFF_S * 2 ** attempt)
                continue
            wait = _limited(response)
            if wait is not None:
                self._wait_for_limit(method, path, wait)
            elif response.status_code >= 500 and attempt < RETRIES:
                self.call.sleep(BACKOFF_S * 2 ** attempt)
            else:
                return self._checked(method, path, response)
        raise ApiError(f"{method} {_bare(path)}: still failing after {RETRIES + 1} attempts")

    def _wait_for_limit(self, method: str, path: str, wait: float) -> None:
        left = self.call.remaining()
        budget = MAX_UNBOUNDED_WAIT_S if left is None else left
        if wait >= budget:
            raise ApiError(f"{method} {_bare(path)}: rate limited by GitHub; the limit resets "
                           f"in {wait:.0f}s, more than the {budget:.0f}s this step may wait")
        self.call.sleep(wait)

    def _checked(self, method: str, path: str, response: httpx.Response) -> httpx.Response:
        code = response.status_code
        if code < 400:
            return response
        endpoint = f"{method} {_bare(path)}"
        message = _message(response)
        write = method != "GET"
        if code == 401:
            raise ApiError(f"{endpoint}: 401 {message}: the token is invalid or expired")
        if code == 403:
            need = "actions: write" if write else "actions: read"
            raise ApiError(f"{endpoint}: 403 {message}: the token may lack `{need}` "
                           f"on {self.repository}")
        if code == 404:
            raise ApiError(f"{endpoint}: 404 {message}: {self.repository} or this workflow "
                           "does not exist, or the token cannot see it (`actions: read`, "
                           "`contents: read`)")
        raise ApiError(f"{endpoint}: {code} {message}")


def _limited(response: httpx.Response) -> float | None:
    """Seconds to wait when the response says a rate limit was hit, else None."""
    code, headers = response.status_code, response.headers
    if code not in {403, 429}:
        return None
    if headers.get("retry-after", "").isdigit():
        return float(headers["retry-after"])
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        return max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1.0
    return 60.0 if code == 429 else None


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.reason_phrase))
    except ValueError:
        return response.reason_phrase


def _bare(path: str) -> str:
    """The path of a URL, without host or query (no parameter ever carries the token)."""
    return re.sub(r"^https?://[^/]+", "", path).split("?", 1)[0]
