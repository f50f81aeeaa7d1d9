"""The site's files: the manifest (check; apply: regenerate, or restore from the backup when
the site cannot be read), the functions' validity, and the backup (apply: refresh it, but only
from a manifest that is current and whose functions are valid). A broken file is kept aside as
`<name>.broken` before anything replaces it."""

from __future__ import annotations

from runner.modules import ActionResult, ModuleCall
from runner.modules.netlify import manifest as mf
from runner.modules.netlify.host import SiteError
from runner.modules.netlify.site import NO_FUNCTIONS, ManifestState, Site
from runner.modules.netlify.validate import Report, Validator


def _nothing_here(site: Site, required: bool) -> ActionResult:
    where = site.rel(site.folder)
    if required:
        return ActionResult(False, reason=f"no functions folder {where}", fields={"functions": 0})
    return ActionResult(True, stdout=f"{NO_FUNCTIONS} ({where} does not exist)",
                        fields={"functions": 0})


def _drift_fields(state: ManifestState) -> dict[str, list[str]]:
    drift = state.drift
    if drift is None:
        return {}
    return {"added": list(drift.added), "removed": list(drift.removed),
            "changed": list(drift.changed)}


def check_manifest(call: ModuleCall, site: Site) -> ActionResult:
    data = site.host.read(site.manifest_path)
    if not site.exists and data is None:
        return _nothing_here(site, bool(call.args["required"]))
    state = site.manifest_state(data)
    fields = {**site.summary(), **_drift_fields(state)}
    if not site.exists and state.drift is not None:
        listed = len(state.drift.removed)
        return ActionResult(False, fields=fields, reason=f"the functions folder "
                            f"{site.rel(site.folder)} does not exist, but "
                            f"{site.rel(site.manifest_path)} lists {listed} functions")
    if state.current:
        text = f"{site.rel(site.manifest_path)} lists {len(site.functions)} functions, current"
        return ActionResult(True, stdout=text, fields=fields)
    return ActionResult(False, reason=state.describe(site.rel(site.manifest_path)), fields=fields)


def apply_manifest(call: ModuleCall, site: Site) -> ActionResult:
    name = site.rel(site.manifest_path)
    try:
        checked = check_manifest(call, site)
        readable = site.exists
    except SiteError as exc:  # the site cannot be read: regeneration is impossible
        return _restore(site, ActionResult(False), f"cannot regenerate {name}: {exc}")
    if checked.ok:
        return checked
    if not readable:
        return _restore(site, checked, f"cannot regenerate {name}: "
                                       f"{site.rel(site.folder)} does not exist")
    if not call.args["auto_regenerate"]:
        return ActionResult(False, reason=f"{checked.reason} (auto regeneration is off: would "
                                          "regenerate it)", fields=checked.fields)
    _keep_aside(site, site.manifest_path)
    site.host.write(site.manifest_path, mf.render(site.functions))
    after = check_manifest(call, site)
    done = f"regenerated {name} ({len(site.functions)} functions): {checked.reason}"
    return ActionResult(after.ok, changed=True, stdout=done, reason=after.reason,
                        fields={**after.fields, "action": "regenerated"})


def _restore(site: Site, checked: ActionResult, why: str) -> ActionResult:
    backup = site.host.read(site.backup_path)
    problem = "missing" if backup is None else _corrupt(backup)
    if backup is None or problem:
        return ActionResult(False, reason=f"{why}; backup {site.rel(site.backup_path)} is "
                                          f"{problem}", fields=checked.fields)
    _keep_aside(site, site.manifest_path)
    site.host.write(site.manifest_path, backup)
    text = f"restored {site.rel(site.manifest_path)} from {site.rel(site.backup_path)} ({why})"
    return ActionResult(True, changed=True, stdout=text, fields={"action": "restored"})


def _corrupt(data: bytes) -> str:
    try:
        mf.parse(data)
    except mf.ManifestError as exc:
        return f"corrupt: {exc}"
    return ""


def _keep_aside(site: Site, path: str) -> None:
    data = site.host.read(path)
    if data is not None and _corrupt(data):
        site.host.move(path, f"{path}.broken")


def validate(call: ModuleCall, site: Site) -> Report:
    validator = Validator(site.host, site.snapshot, str(call.args["node"]),
                          int(call.args["concurrency"]))
    return validator.run(site.functions)


def check_valid(call: ModuleCall, site: Site) -> ActionResult:
    if not site.exists:
        return _nothing_here(site, bool(call.args["required"]))
    report = validate(call, site)
    fields = {**site.summary(), "problems": report.problems[:50],
              "not_checked": report.not_checked[:50], "typescript_checker": report.checker}
    note = f"; TypeScript not checked (no esbuild or typescript): " \
           f"{', '.join(report.not_checked)}" if report.not_checked else ""
    if report.problems:
        more = f" (and {len(report.problems) - 5} more)" if len(report.problems) > 5 else ""
        return ActionResult(False, reason="; ".join(report.problems[:5]) + more + note,
                            fields=fields)
    text = f"{len(site.functions)} functions valid{note}"
    return ActionResult(True, stdout=text, fields=fields)


def check_backup(call: ModuleCall, site: Site) -> ActionResult:
    manifest = site.host.read(site.manifest_path)
    if not site.exists and manifest is None:
        return _nothing_here(site, bool(call.args["required"]))
    backup = site.host.read(site.backup_path)
    name = site.rel(site.backup_path)
    if backup is None:
        return ActionResult(False, reason=f"{name} is missing")
    problem = _corrupt(backup)
    if problem:
        return ActionResult(False, reason=f"{name} is {problem}")
    if backup != manifest:
        return ActionResult(False, reason=f"{name} differs from {site.rel(site.manifest_path)}")
    return ActionResult(True, stdout=f"{name} matches the manifest")


def apply_backup(call: ModuleCall, site: Site) -> ActionResult:
    checked = check_backup(call, site)
    if checked.ok:
        return checked
    state = site.manifest_state(site.host.read(site.manifest_path))
    why = "" if state.current else state.describe(site.rel(site.manifest_path))
    if not why:
        report = validate(call, site)
        why = "; ".join(report.problems[:3])
    if why or state.data is None:
        return ActionResult(False, reason=f"not refreshing the backup: {why}")
    _keep_aside(site, site.backup_path)
    site.host.write(site.backup_path, state.data)
    return ActionResult(True, changed=True, stdout=f"refreshed {site.rel(site.backup_path)}")


