"""`tcp`: a TCP port accepts connections (or, with `state: closed`, does not)."""

from __future__ import annotations

import shlex
import socket
import time

from runner.fields import Field, Fields
from runner.modules import ActionResult, ModuleCall


class TCP:
    name = "tcp"
    doc = "A TCP port is open (accepts a connection) or closed."
    fields: Fields = {
        "port": Field("int", "the port", required=True, minimum=1, maximum=65535),
        "host": Field("str", "the address to connect to", default="127.0.0.1"),
        "state": Field("str", "open or closed", choices=("open", "closed"), default="open"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        address = str(call.args["host"])
        port = int(call.args["port"])
        timeout = call.timeout or 5.0
        if call.connection.is_local:
            is_open, latency, detail = _probe(address, port, timeout)
        else:
            is_open, latency, detail = _remote_probe(call, address, port, timeout)
        want_open = call.args["state"] == "open"
        ok = is_open == want_open
        text = f"{address}:{port} is {'open' if is_open else 'closed'}"
        detail = f" ({detail})" if detail else ""
        reason = "" if ok else f"{text}{detail}, expected {call.args['state']}"
        return ActionResult(ok, stdout=text, reason=reason,
                            fields={"open": is_open, "latency_s": round(latency, 4)})


def _probe(address: str, port: int, timeout: float) -> tuple[bool, float, str]:
    start = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True, time.monotonic() - start, ""
    except OSError as exc:
        return False, time.monotonic() - start, exc.strerror or str(exc)


def _remote_probe(call: ModuleCall, address: str, port: int,
                  timeout: float) -> tuple[bool, float, str]:
    # bash's /dev/tcp needs nothing installed on the host
    script = f"exec 3<>/dev/tcp/{address}/{port}"
    command = f"timeout {timeout:g} bash -c {shlex.quote(script)}"
    start = time.monotonic()
    res = call.connection.run(command, timeout=timeout + 5)
    return res.rc == 0, time.monotonic() - start, res.stderr.strip()
