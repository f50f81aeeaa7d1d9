"""`http`: an HTTP endpoint answers with an expected status, body and latency.

Local hosts are checked in-process; SSH hosts with `curl` on the host itself, so
`http://127.0.0.1:3000/` means the host's own loopback.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from typing import Any

from runner.fields import Field, Fields, parse_duration
from runner.modules import ActionResult, ModuleCall


class HTTP:
    name = "http"
    doc = "An HTTP endpoint answers with the expected status (and body text) in time."
    fields: Fields = {
        "url": Field("str", "the URL to request", required=True),
        "method": Field("str", "the HTTP method", default="GET"),
        "status": Field("codes", "accepted status code(s)", default=[200]),
        "contains": Field("str", "text the body must contain"),
        "max_latency": Field("duration", "the slowest acceptable answer, like 500ms"),
        "headers": Field("env", "request headers"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        args = call.args
        timeout = call.timeout or 10.0
        if call.connection.is_local:
            status, body, latency, error = _local(args, timeout)
        else:
            status, body, latency, error = _remote(call, timeout)
        fields = {"status_code": status, "latency_s": round(latency, 4)}
        if error:
            return ActionResult(False, stderr=error, reason=error, fields=fields)
        return _judge(args, status, body, latency, fields)


def _judge(args: Mapping[str, Any], status: int, body: str, latency: float,
           fields: Mapping[str, object]) -> ActionResult:
    accepted = args["status"]
    accepted = accepted if isinstance(accepted, list) else [accepted]
    problems = []
    if status not in accepted:
        problems.append(f"status {status}, expected {', '.join(map(str, accepted))}")
    if args.get("contains") and str(args["contains"]) not in body:
        problems.append(f"body lacks {args['contains']!r}")
    limit = parse_duration(args.get("max_latency")) if args.get("max_latency") else None
    if limit is not None and latency > limit:
        problems.append(f"answered in {latency * 1000:.0f} ms, limit {limit * 1000:.0f} ms")
    out = f"{args['url']}: status {status} in {latency * 1000:.0f} ms"
    return ActionResult(not problems, stdout=out, reason="; ".join(problems), fields=fields)


def _local(args: Mapping[str, Any], timeout: float) -> tuple[int, str, float, str]:
    import urllib.error
    import urllib.request

    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    request = urllib.request.Request(  # noqa: S310 - the URL is the playbook's to choose
        str(args["url"]), method=str(args["method"]), headers=headers
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            body = answer.read(1 << 20).decode("utf-8", "replace")
            return answer.status, body, time.monotonic() - start, ""
    except urllib.error.HTTPError as exc:
        body = exc.read(1 << 20).decode("utf-8", "replace")
        return exc.code, body, time.monotonic() - start, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, "", time.monotonic() - start, f"{args['url']}: {reason}"


def _remote(call: ModuleCall, timeout: float) -> tuple[int, str, float, str]:
    args = call.args
    headers = " ".join(
        f"-H {shlex.quote(f'{k}: {v}')}" for k, v in (args.get("headers") or {}).items()
    )
    command = (
        f"curl -sS -X {shlex.quote(str(args['method']))} {headers} "
        f"-m {timeout:g} -w '\\n%{{http_code}} %{{time_total}}' {shlex.quote(str(args['url']))}"
    )
    res = call.connection.run(command, timeout=timeout + 5)
    body, _, tail = res.stdout.rpartition("\n")
    code, _, seconds = tail.partition(" ")
    if res.rc != 0 or not code.isdigit():
        return 0, "", 0.0, res.stderr.strip() or f"curl: {res.reason}"
    return int(code), body, float(seconds or 0), ""
