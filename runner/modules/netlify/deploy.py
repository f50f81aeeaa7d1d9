"""The deployed site through Netlify's API. Check: the current production deploy (the one
published last) is `ready`, its probes did not fail, and it lists every local function.
Apply: when it is in `error` or its probes failed, restore the last deploy that was `ready`
and passed (as this step recorded in `good_deploy`), else the newest `ready` one before it,
else trigger the build hook; at most `max_actions` of these per `window`, counted in the store.
Without a token or a site id there is nothing to do: the step is skipped."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any

from runner.fields import parse_duration
from runner.modules import ActionResult, Mode, ModuleCall
from runner.modules.netlify import manifest as mf
from runner.modules.netlify.api import APIError, NetlifyAPI
from runner.modules.netlify.site import Site

ROLLBACK, BUILD = "netlify-rollback", "netlify-build"


def _epoch(stamp: object) -> float:
    if not isinstance(stamp, str) or not stamp:
        return 0.0
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _current(deploys: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The deploy published last, or a newer one that failed."""
    def when(d: dict[str, Any]) -> float:
        return max(_epoch(d.get("published_at")), _epoch(d.get("created_at")) if
                   d.get("state") == "error" else 0.0)
    return max(deploys, key=when) if deploys else None


def _site_id(call: ModuleCall, site: Site) -> str | None:
    if call.args.get("site_id"):
        return str(call.args["site_id"])
    data = site.host.read(site.host.path(".netlify/state.json"))
    try:
        found = json.loads(data).get("siteId") if data else None
    except (ValueError, AttributeError):
        return None
    return str(found) if found else None


def _deployed_names(api: NetlifyAPI, site_id: str, deploy_id: str) -> set[str] | None:
    groups = api.get(f"/sites/{site_id}/functions") or []
    group = next((g for g in groups if g.get("id") == deploy_id), None)
    if group is None:
        return None
    return {str(f.get("name") or f.get("n")) for f in group.get("functions") or []}


def deploy(call: ModuleCall) -> ActionResult:
    token = os.environ.get(str(call.args["token_env"]))
    if not token:
        return ActionResult(True, skipped=True, reason=f"no Netlify token "
                                                       f"({call.args['token_env']} is not set)")
    call.secret(token)  # whatever the variable is called
    site = Site(call)
    site_id = _site_id(call, site)
    if not site_id:
        return ActionResult(True, skipped=True,
                            reason="no Netlify site id (site_id, or .netlify/state.json)")
    api = NetlifyAPI(call, token)
    try:
        checked, deploys = _check(call, api, site, site_id)
        if checked.ok or call.mode is Mode.CHECK:
            return checked
        return _recover(call, api, site_id, deploys, checked)
    except APIError as exc:
        if call.mode is Mode.APPLY:
            return ActionResult(False, reason=str(exc))
        raise


def _check(call: ModuleCall, api: NetlifyAPI, site: Site,
           site_id: str) -> tuple[ActionResult, list[dict[str, Any]]]:
    deploys = api.get(f"/sites/{site_id}/deploys", production="true", per_page=20) or []
    current = _current(deploys)
    if current is None:
        return ActionResult(False, reason=f"site {site_id} has no production deploy"), deploys
    age = time.time() - max(_epoch(current.get("published_at")), _epoch(current.get("created_at")))
    fields: dict[str, Any] = {"deploy_id": current.get("id"), "state": current.get("state"),
                              "age_s": round(age)}
    problems = _problems(call, current)
    local = _local_names(site)
    names = _deployed_names(api, site_id, str(current.get("id"))) if local else None
    if local and names is not None:
        fields["not_deployed"] = sorted(local - names)
        if fields["not_deployed"]:
            problems.append(f"not deployed: {', '.join(fields['not_deployed'])}")
    if problems:
        return ActionResult(False, reason="; ".join(problems), fields=fields), deploys
    text = f"deploy {current.get('id')} is ready ({age / 3600:.1f} h old)"
    fields["good_deploy"] = current.get("id")  # ready and probed: a deploy to come back to
    return ActionResult(True, stdout=text, fields=fields), deploys


def _local_names(site: Site) -> set[str]:
    """The functions the local manifest lists (else those found in the functions folder)."""
    data = site.host.read(site.manifest_path)
    try:
        return set(mf.parse(data)) if data is not None else set()
    except mf.ManifestError:
        return {f.name for f in site.functions} if site.exists else set()


def _problems(call: ModuleCall, current: dict[str, Any]) -> list[str]:
    problems = []
    if current.get("state") != "ready":
        problems.append(f"deploy {current.get('id')} is {current.get('state')}: "
                        f"{current.get('error_message') or 'no message'}")
    if _probes_failed(call, current):
        problems.append(f"the functions of deploy {current.get('id')} fail their probes")
    return problems


def _probes_failed(call: ModuleCall, current: dict[str, Any]) -> bool:
    """The probes failed against this deploy (not one published since they ran)."""
    probed_at = float(call.args.get("probed_at") or 0)
    published = _epoch(current.get("published_at"))
    return bool(call.args["probes_failed"]) and (not probed_at or published <= probed_at)


def _good_ids(call: ModuleCall) -> list[str]:
    return [str(p.fields["good_deploy"]) for p in call.previous if p.fields.get("good_deploy")]


def _target(call: ModuleCall, deploys: list[dict[str, Any]],
            current: str) -> tuple[dict[str, Any] | None, bool]:
    ready = [d for d in deploys if d.get("state") == "ready" and d.get("id") != current]
    by_id = {d.get("id"): d for d in ready}
    for good in _good_ids(call):
        if good in by_id:
            return by_id[good], True
    ready.sort(key=lambda d: _epoch(d.get("created_at")), reverse=True)
    return (ready[0], False) if ready else (None, False)


def _recover(call: ModuleCall, api: NetlifyAPI, site_id: str, deploys: list[dict[str, Any]],
             checked: ActionResult) -> ActionResult:
    fields = dict(checked.fields)
    if fields.get("state") != "error" and not call.args["probes_failed"]:
        return ActionResult(False, reason=f"{checked.reason} (not something a rollback fixes)",
                            fields=fields)
    window = parse_duration(call.args["window"]) or 86400.0
    done = call.actions_since(ROLLBACK, site_id, window) + call.actions_since(
        BUILD, site_id, window)
    if done >= int(call.args["max_actions"]):
        return ActionResult(False, reason=f"{checked.reason}; not acting: {done} rollbacks or "
                            f"builds of site {site_id} within {call.args['window']} already "
                            f"(max_actions {call.args['max_actions']})", fields=fields)
    target, probed = _target(call, deploys, str(fields.get("deploy_id")))
    if target is not None:
        api.post(f"/sites/{site_id}/deploys/{target['id']}/restore")
        note = "" if probed else " (the newest ready one; urs never saw it pass its probes)"
        return ActionResult(True, changed=True, stdout=f"restored deploy {target['id']}{note}",
                            fields={**fields, "restored": target["id"],
                                    "actions": [{"kind": ROLLBACK, "target": site_id}]})
    return _build(call, api, site_id, checked, fields)


def _build(call: ModuleCall, api: NetlifyAPI, site_id: str, checked: ActionResult,
           fields: dict[str, Any]) -> ActionResult:
    hook_id = call.args.get("build_hook")
    if not hook_id:
        return ActionResult(False, reason=f"{checked.reason}; no ready deploy to roll back to "
                                          "and no build_hook", fields=fields)
    hooks = api.get(f"/sites/{site_id}/build_hooks") or []
    hook = next((h for h in hooks if h.get("id") == hook_id), None)
    if hook is None or not hook.get("url"):
        return ActionResult(False, reason=f"build hook {hook_id} not found on site {site_id}",
                            fields=fields)
    api.post(str(hook["url"]), {})
    return ActionResult(True, changed=True, stdout=f"triggered build hook {hook_id}",
                        fields={**fields, "build_hook": hook_id,
                                "actions": [{"kind": BUILD, "target": site_id}]})
