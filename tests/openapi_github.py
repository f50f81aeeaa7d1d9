"""GitHub's published OpenAPI description (npm @octokit/openapi, pinned, installed by
scripts/test), used to check every request the fake GitHub receives and every response it
sends, so the fake cannot drift from the real API.

Error statuses an operation does not list (401, 403, 429, 5xx: GitHub sends them for any
operation) are checked against the description's Basic Error schema.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from tests.helpers import TEST_TOOLS, installed

OCTOKIT_VERSION = "23.0.2"
DEFAULT = (TEST_TOOLS / f"octokit-openapi-{OCTOKIT_VERSION}" / "node_modules" / "@octokit" /
           "openapi" / "generated" / "api.github.com.deref.json")
# the operations urs calls; the rest of the 70 MB description is dropped once loaded
USED = ("/repos/{owner}/{repo}", "/repos/{owner}/{repo}/actions/workflows",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches")


def spec_path() -> Path:
    return installed("URS_TEST_OCTOKIT_OPENAPI", DEFAULT, "@octokit/openapi")


@functools.cache
def paths() -> dict[str, Any]:
    full = json.loads(spec_path().read_text())
    return {p: full["paths"][p] for p in USED}


def _template(path: str) -> str | None:
    for template in sorted(paths(), key=len, reverse=True):
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    return None


def operation(method: str, path: str) -> dict[str, Any] | None:
    template = _template(path)
    return paths()[template].get(method.lower()) if template else None


def _errors(schema: dict[str, Any], value: Any) -> list[str]:
    from openapi_schema_validator import OAS30Validator

    return [f"{list(e.absolute_path)}: {e.message[:200]}"
            for e in OAS30Validator(schema).iter_errors(value)]


def check_request(method: str, path: str, query: dict[str, str], body: Any) -> list[str]:
    """What is wrong with the request, by the description ([] when nothing)."""
    op = operation(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in GitHub's API"]
    params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    problems = [f"{method} {path}: unknown query parameter {k}" for k in query if k not in params]
    for name, text in query.items():
        if name in params:
            value: Any = int(text) if params[name]["schema"].get("type") == "integer" \
                and text.isdigit() else text
            problems += [f"query {name}: {e}" for e in _errors(params[name]["schema"], value)]
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None and body is not None:
        problems.append(f"{method} {path}: takes no body")
    elif content is not None and body is None and op["requestBody"].get("required"):
        problems.append(f"{method} {path}: the body is required")
    elif content is not None and body is not None:
        problems += [f"body {e}" for e in _errors(content["schema"], body)]
    return problems


def _basic_error() -> dict[str, Any]:
    op = paths()["/repos/{owner}/{repo}"]["get"]
    return dict(op["responses"]["404"]["content"]["application/json"]["schema"])


def check_response(method: str, path: str, status: int, body: Any) -> list[str]:
    op = operation(method, path)
    if op is None:
        return []  # already reported by check_request
    documented = op["responses"].get(str(status))
    if documented is None:
        if status in {401, 403, 404, 422, 429} or status >= 500:
            return [f"{status} body {e}" for e in _errors(_basic_error(), body)]
        return [f"{method} {path}: status {status} is not documented"]
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return [] if body is None else [f"{method} {path} {status}: documented without a body"]
    return [f"{status} body {e}" for e in _errors(content["schema"], body)]


def example(method: str, template: str, status: str = "200") -> Any:
    """The description's own example of a response: the fake builds its answers from them."""
    op = paths()[template][method.lower()]
    examples = op["responses"][status]["content"]["application/json"]["examples"]
    return json.loads(json.dumps(next(iter(examples.values()))["value"]))
