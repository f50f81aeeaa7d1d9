"""Bringing PM2 back, each step only when needed and verified afterwards:

1. apps errored, stopped or stuck: restart only those (never `pm2 start ecosystem` over
   registered apps, which restarts healthy ones too), at most `max_restart_attempts` times,
   with a doubling delay, each attempt verified by the app staying online for `settle`;
2. daemon dead: `pm2 resurrect`, only from a dump that exists, parses and is not empty;
   else start the primary ecosystem file; else the fallback; the apps must end online; a live
   daemon with no app at all is resurrected from such a dump too;
3. `saved`: keep the previous dump as dump.pm2.urs.bak, then `pm2 save`.
"""

from __future__ import annotations

import shlex
from typing import Any

from runner.fields import parse_duration
from runner.modules import ActionResult
from runner.modules.pm2.checks import check_online, check_saved, daemon_down, wanted
from runner.modules.pm2.host import PM2Host
from runner.modules.pm2.state import State, dump_names

VERIFY_S = 30.0


def apply(host: PM2Host, state: State) -> ActionResult:
    kind = host.call.args["state"]
    if kind == "saved":
        return save(host, state)
    revived = revive(host, state)
    if kind == "alive" or not revived.ok:
        return revived
    return restart_down(host, host.state(), revived)


def _verify_timeout(host: PM2Host) -> float:
    return VERIFY_S + 3 * host.settle


def revive(host: PM2Host, state: State) -> ActionResult:
    """The daemon alive: resurrect from a usable dump, else the ecosystem files."""
    if state.alive:
        return ActionResult(True, stdout=f"PM2 daemon alive (pid {state.daemon_pid})")
    if not state.installed:
        return daemon_down(state)
    tried: list[str] = []
    resurrected = _resurrect(host, state, tried)
    if resurrected is not None:
        return resurrected
    for key in ("ecosystem", "fallback_ecosystem"):
        result = _start_file(host, key, tried)
        if result is not None:
            return result
    return ActionResult(False, reason="cannot revive the PM2 daemon: " + "; ".join(tried))


def _resurrect(host: PM2Host, state: State, tried: list[str]) -> ActionResult | None:
    """`pm2 resurrect` from a usable dump, verified; None (saying why in `tried`) if it
    could not run."""
    dump = f"{shlex.quote(state.home)}/dump.pm2"
    names = dump_names(host.read(dump) or "")
    if not names:
        tried.append(f"{state.home}/dump.pm2 is missing, unreadable or empty")
        return None
    started = host.pm2("resurrect")
    if not started.ok:
        tried.append(f"pm2 resurrect failed: {started.reason}")
        return None
    return _verified(host, names, "dump", f"resurrected {len(names)} apps from {dump}")


def _start_file(host: PM2Host, key: str, tried: list[str]) -> ActionResult | None:
    path = host.call.args.get(key)
    if not path:
        return None
    if not host.exists(str(path)):
        tried.append(f"{key} {path} is missing")
        return None
    started = host.pm2("start", str(path))
    if not started.ok:
        tried.append(f"pm2 start {path} failed: {started.reason}")
        return None
    names = host.app_names(str(path)) or host.state().names()
    return _verified(host, names, key, f"started {path}")


def _verified(host: PM2Host, names: list[str], source: str, text: str) -> ActionResult:
    if not names:
        return ActionResult(False, stdout=text, changed=True, fields={"source": source},
                            reason=f"{text}, but no app is registered")
    ok, state = host.stable(names, _verify_timeout(host))
    fields = {"source": source, "apps": [a.summary() for a in state.apps]}
    if ok:
        return ActionResult(True, stdout=text, changed=True, fields=fields)
    down = [f"{a.name} {a.status}" for n in names for a in state.instances(n) if not a.online]
    down += [f"{n} missing" for n in names if not state.instances(n)]
    return ActionResult(False, stdout=text, changed=True, fields=fields,
                        reason=f"{text}, but not every app stayed online: {', '.join(down)}")


def restart_down(host: PM2Host, state: State, before: ActionResult) -> ActionResult:
    """Restart the wanted apps that are down; leave the healthy ones alone. A live daemon
    with no app at all (`pm2 delete`, a daemon started afresh) resurrects the dump first."""
    if not state.apps:
        refilled = _resurrect(host, state, [])
        if refilled is not None:
            if not refilled.ok:
                return refilled
            before, state = refilled, host.state()
    names = wanted(host, state)
    targets = [a for a in state.apps if a.name in names and a.down]
    missing = [n for n in names if state.app(n) is None]
    restarted: list[dict[str, Any]] = []
    problems = [_start_missing(host, n) for n in missing]
    problems = [p for p in problems if p]
    for app in targets:
        attempts, ok = _restart(host, app.pm_id, app.name)
        restarted.append({"name": app.name, "from": app.status, "attempts": attempts,
                          "recovered": ok})
        if not ok:
            problems.append(f"app {app.name} still down after {attempts} restart attempts")
    final = host.state()
    after = check_online(host, final)
    changed = before.changed or bool(restarted)
    fields = {"apps": _annotated(final, restarted), "restarted": restarted,
              **({"source": before.fields["source"]} if "source" in before.fields else {})}
    if problems or not after.ok:
        return ActionResult(False, changed=changed, reason="; ".join(problems) or after.reason,
                            fields=fields)
    text = ", ".join(f"restarted {r['name']} (was {r['from']})" for r in restarted)
    return ActionResult(True, stdout=text or after.stdout, changed=changed, fields=fields)


def _annotated(state: State, restarted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each app's summary; a restarted one also says from what status and in how many tries."""
    done = {r["name"]: r for r in restarted}
    return [{**a.summary(), **({"restarted_from": done[a.name]["from"],
                                "restart_attempts": done[a.name]["attempts"]}
                               if a.name in done else {})} for a in state.apps]


def _start_missing(host: PM2Host, name: str) -> str:
    """Start an app that is not registered from the ecosystem file, alone; a problem or ''."""
    ecosystem = host.call.args.get("ecosystem")
    if not ecosystem or not host.exists(str(ecosystem)):
        return f"app {name} is not registered (and no ecosystem file to start it from)"
    started = host.pm2("start", str(ecosystem), "--only", name)
    ok, _ = host.stable([name], host.settle + 10.0) if started.ok else (False, None)
    return "" if ok else f"app {name} did not start from {ecosystem}: {started.reason}"


def _restart(host: PM2Host, pm_id: int, name: str) -> tuple[int, bool]:
    args = host.call.args
    limit = int(args["max_restart_attempts"])
    delay = parse_duration(args["restart_delay"]) or 0.0
    for attempt in range(1, limit + 1):
        host.pm2("restart", str(pm_id))
        ok, _ = host.stable([name], host.settle + 10.0)
        if ok:
            return attempt, True
        if attempt < limit:
            host.call.sleep(delay * 2 ** (attempt - 1))
    return limit, False


def save(host: PM2Host, state: State) -> ActionResult:
    """Keep the previous (non-empty) dump as dump.pm2.urs.bak, then `pm2 save`."""
    if not state.alive:
        return check_saved(host, state)
    dump = f"{shlex.quote(state.home)}/dump.pm2"
    if dump_names(host.read(dump) or ""):
        host.sh(f"cp -p {dump} {dump}.urs.bak")
    saved = host.pm2("save")
    if not saved.ok:
        return ActionResult(False, reason=f"pm2 save failed: {saved.reason}")
    verified = check_saved(host, host.state())
    return ActionResult(verified.ok, stdout=verified.stdout, changed=True, reason=verified.reason)
