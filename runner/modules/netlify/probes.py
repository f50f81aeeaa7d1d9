"""Probes of the deployed functions, from the control machine: each function's route is
requested and must answer with its expected status (202 for background functions) within the
latency limit. Scheduled functions have no HTTP route to probe. A function fails the step only
after `max_failures` failing probes in a row, counted across runs through the step's earlier
outcomes (`fields["failing"]`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from runner.fields import parse_duration
from runner.modules import ActionResult, ModuleCall
from runner.modules.netlify.discover import Function
from runner.modules.netlify.site import NO_FUNCTIONS, Site

MAX_PROBES_AT_ONCE = 8


@dataclass(frozen=True)
class Probe:
    name: str
    route: str
    expected: int
    status: int = 0
    latency_s: float = 0.0
    error: str = ""

    def problem(self, limit: float) -> str:
        if self.error:
            return self.error
        if self.status != self.expected:
            return f"status {self.status}, expected {self.expected}"
        if self.latency_s > limit:
            return f"answered in {self.latency_s * 1000:.0f} ms, limit {limit * 1000:.0f} ms"
        return ""


def _route(function: Function) -> str | None:
    plain = [r for r in function.routes if not any(c in r for c in ":*{")]
    return plain[0] if plain else None


def _request(url: str, timeout: float) -> tuple[int, float, str]:
    import urllib.error
    import urllib.request

    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - the site's
            answer.read(1 << 16)
            return answer.status, time.monotonic() - start, ""
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - start, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 0, time.monotonic() - start, str(getattr(exc, "reason", exc))


def _probe(base: str, function: Function, expect: Mapping[str, Any],
           timeout: float) -> Probe | None:
    route = _route(function)
    if function.kind == "scheduled" or route is None:
        return None
    expected = int(expect.get(function.name, 202 if function.background else 200))
    status, latency, error = _request(base.rstrip("/") + route, timeout)
    return Probe(function.name, route, expected, status, latency, error)


def run_probes(call: ModuleCall, functions: list[Function]) -> list[Probe]:
    timeout = parse_duration(call.args["probe_timeout"]) or 10.0
    left = call.remaining()
    timeout = min(timeout, left) if left is not None else timeout
    expect = dict(call.args.get("expect") or {})
    with ThreadPoolExecutor(MAX_PROBES_AT_ONCE) as pool:
        found = pool.map(lambda f: _probe(str(call.args["url"]), f, expect, timeout), functions)
        return [p for p in found if p is not None]


def _earlier_failures(call: ModuleCall) -> Mapping[str, int]:
    if not call.previous:
        return {}
    failing = call.previous[0].fields.get("failing")
    return failing if isinstance(failing, dict) else {}


def check_probes(call: ModuleCall) -> ActionResult:
    if not call.args.get("url"):
        return ActionResult(True, skipped=True, reason="no site URL (url) to probe")
    site = Site(call)
    if not site.exists:
        return ActionResult(True, stdout=NO_FUNCTIONS, fields={"functions": 0})
    probes = run_probes(call, site.functions)
    limit = parse_duration(call.args["max_latency"]) or 3.0
    earlier, most = _earlier_failures(call), int(call.args["max_failures"])
    failing = {p.name: int(earlier.get(p.name, 0)) + 1 for p in probes if p.problem(limit)}
    notes = [f"{p.name}: {p.problem(limit)} ({failing[p.name]} of {most} in a row)"
             for p in probes if p.name in failing]
    fields = {"probed": len(probes), "failing": failing, "checked_at": round(time.time(), 3),
              "probes": [_row(p) for p in probes if p.name in failing]}
    lines = [f"{len(probes) - len(failing)} of {len(probes)} functions answer", *notes,
             *(f"{p.name} {p.route}: {p.status or 'no answer'} in {p.latency_s * 1000:.0f} ms"
               for p in probes)]
    ok = all(count < most for count in failing.values())
    return ActionResult(ok, stdout="\n".join(lines), reason="" if ok else "; ".join(notes),
                        fields=fields)


def _row(probe: Probe) -> dict[str, Any]:
    return {"name": probe.name, "route": probe.route, "status": probe.status,
            "latency_ms": round(probe.latency_s * 1000)}
