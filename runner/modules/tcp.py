"""`tcp`: TCP ports accept connections (or, with `state: closed`, do not).

The control machine connects in-process. On an SSH host one POSIX shell script probes every
port with the first tool the host has: python3, bash's /dev/tcp, then `nc -z`. A host with
none of them cannot be probed: that raises `ProbeUnavailable` (the step is an error), never
"closed".
"""

from __future__ import annotations

import shlex
import socket
import time
from dataclasses import dataclass

from runner.fields import Field, Fields, as_list
from runner.modules import ActionResult, ModuleCall

MARK = "URS-TCP"
# $1 address, $2 timeout in seconds, then the ports; one line per port: MARK PORT open|closed|none
PROBE = r"""h=$1; t=$2; shift 2
tm=; command -v timeout >/dev/null 2>&1 && tm="timeout $t"
for p in "$@"; do
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])).close()
    print("open")
except OSError as exc:
    print("closed", exc.strerror or exc)' "$h" "$p" "$t" 2>&1 | sed "s/^/URS-TCP $p /"
  elif command -v bash >/dev/null 2>&1; then
    if out=$($tm bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>&1); then echo "URS-TCP $p open"
    elif [ -z "$out" ]; then echo "URS-TCP $p closed timed out"
    elif case "$out" in *"No such file"*) true ;; *) false ;; esac; then
      echo "URS-TCP $p none bash has no /dev/tcp"
    else echo "URS-TCP $p closed ${out##*: }" | head -n 1; fi
  elif command -v nc >/dev/null 2>&1; then
    if out=$(nc -z -w "$t" "$h" "$p" 2>&1); then echo "URS-TCP $p open"
    else case "$out" in
      *sage*|*ption*) echo "URS-TCP $p none nc cannot probe: $out" | head -n 1 ;;
      *) echo "URS-TCP $p closed $out" | head -n 1 ;;
    esac; fi
  else echo "URS-TCP $p none"
  fi
done"""
STATES = ("open", "closed", "none")
NO_TOOL = "none of python3, bash or nc is on the PATH"


class ProbeUnavailable(RuntimeError):
    """The host has no way to open a TCP connection; whether the port is open is unknown."""


@dataclass(frozen=True)
class Probe:
    port: int
    open: bool
    latency_s: float
    detail: str = ""


class TCP:
    name = "tcp"
    doc = "TCP ports are open (accept a connection) or closed."
    fields: Fields = {
        "port": Field("ports", "the port, or a list of ports (all must be in the state)",
                      required=True),
        "host": Field("str", "the address to connect to", default="127.0.0.1"),
        "state": Field("str", "open or closed", choices=("open", "closed"), default="open"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        address = str(call.args["host"])
        ports = [int(p) for p in as_list(call.args["port"])]
        timeout = call.timeout or 5.0
        if call.connection.is_local:
            probes = [_probe(address, port, _within(call, timeout)) for port in ports]
        else:
            probes = _remote_probe(call, address, ports, timeout)
        want_open = call.args["state"] == "open"
        wrong = [p for p in probes if p.open != want_open]
        text = "\n".join(f"{address}:{p.port} is {'open' if p.open else 'closed'}" for p in probes)
        reason = "; ".join(f"{address}:{p.port} is {'open' if p.open else 'closed'}"
                           + (f" ({p.detail})" if p.detail else "") for p in wrong)
        reason += f", expected {call.args['state']}" if wrong else ""
        fields = {"open": all(p.open for p in probes),
                  "closed_ports": [p.port for p in probes if not p.open],
                  "latency_s": round(max(p.latency_s for p in probes), 4)}
        return ActionResult(not wrong, stdout=text, reason=reason, fields=fields)


def _within(call: ModuleCall, timeout: float) -> float:
    """The probe's own timeout, cut to what is left of the attempt's deadline."""
    left = call.remaining()
    return timeout if left is None else min(timeout, left)


def _probe(address: str, port: int, timeout: float) -> Probe:
    start = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return Probe(port, True, time.monotonic() - start)
    except OSError as exc:
        return Probe(port, False, time.monotonic() - start, exc.strerror or str(exc))


def _remote_probe(call: ModuleCall, address: str, ports: list[int],
                  timeout: float) -> list[Probe]:
    words = [address, f"{timeout:g}", *map(str, ports)]
    command = f"sh -c {shlex.quote(PROBE)} urs-tcp {' '.join(map(shlex.quote, words))}"
    start = time.monotonic()
    res = call.sh(command)
    latency = (time.monotonic() - start) / len(ports)
    answers = parse_answers(res.stdout)
    missing = [p for p in ports if p not in answers]
    if missing:
        raise ProbeUnavailable(f"the TCP probe on {call.host} gave no answer for port "
                               f"{missing[0]}: {res.reason}: {(res.stderr or res.stdout)[-300:]}")
    probes = []
    for port in ports:
        state, detail = answers[port]
        if state == "none":
            raise ProbeUnavailable(f"cannot probe TCP ports on {call.host}: {detail or NO_TOOL}")
        probes.append(Probe(port, state == "open", latency, detail))
    return probes


def parse_answers(output: str) -> dict[int, tuple[str, str]]:
    """port -> (open|closed|none, detail) from the probe's marked lines (a login shell may
    print banners around them)."""
    answers: dict[int, tuple[str, str]] = {}
    for line in output.splitlines():
        words = line.split(maxsplit=3)
        if len(words) >= 3 and words[0] == MARK and words[1].isdigit() and words[2] in STATES:
            answers[int(words[1])] = (words[2], words[3].strip() if len(words) > 3 else "")
    return answers
