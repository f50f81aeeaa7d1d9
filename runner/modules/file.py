"""`file`: a file or folder exists (or not), is fresh enough and large enough."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from runner.fields import Field, Fields, parse_duration
from runner.modules import ActionResult, ModuleCall


class File:
    name = "file"
    doc = "A path exists (or is absent), with optional age and size limits. Read-only."
    fields: Fields = {
        "path": Field("str", "the path on the host", required=True),
        "state": Field("str", "file, directory, present or absent",
                       choices=("file", "directory", "present", "absent"), default="present"),
        "max_age": Field("duration", "the oldest acceptable modification time, like 10m"),
        "min_size": Field("int", "the smallest acceptable size in bytes", minimum=0),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        path = str(call.args["path"])
        # one command: type, size and age in seconds, or nothing when the path is missing
        probe = (
            f"p={shlex.quote(path)}; if [ -e \"$p\" ]; then "
            "if [ -d \"$p\" ]; then t=directory; else t=file; fi; "
            "echo \"$t $(stat -c %s \"$p\") $(( $(date +%s) - $(stat -c %Y \"$p\") ))\"; fi"
        )
        res = call.connection.run(probe, timeout=call.timeout, become=call.become)
        if res.rc != 0:
            return ActionResult(False, res.rc, res.stdout, res.stderr, reason=res.stderr.strip())
        return _judge(call.args, path, res.stdout.split())


def _judge(args: Mapping[str, Any], path: str, parts: list[str]) -> ActionResult:
    state = str(args["state"])
    if not parts:
        ok = state == "absent"
        return ActionResult(ok, stdout=f"{path} is absent",
                            reason="" if ok else f"{path} does not exist", fields={"exists": False})
    kind, size, age = parts[0], int(parts[1]), int(parts[2])
    fields = {"exists": True, "type": kind, "size": size, "age_s": age}
    problems = []
    if state == "absent" or (state in {"file", "directory"} and state != kind):
        problems.append(f"{path} is a {kind}, expected {state}")
    max_age = parse_duration(args.get("max_age")) if args.get("max_age") else None
    if max_age is not None and age > max_age:
        problems.append(f"{path} is {age}s old, limit {max_age:g}s")
    if args.get("min_size") is not None and size < int(args["min_size"]):
        problems.append(f"{path} has {size} bytes, at least {args['min_size']} expected")
    text = f"{path}: {kind}, {size} bytes, {age}s old"
    return ActionResult(not problems, stdout=text, reason="; ".join(problems), fields=fields)
