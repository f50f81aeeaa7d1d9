"""`netlify`: a site's Netlify Functions. Each `state` is checked, and in apply mode brought
about where it can be:

- `manifest`: functions-manifest.json present, readable and current (each function added,
  removed or changed since it was written is named); apply regenerates it from the functions,
  or restores it from the backup when the site cannot be read;
- `valid`: every function parses, exports a handler, and its imports resolve (read-only);
- `backup`: the backup matches the manifest; apply refreshes it from a current, valid manifest;
- `probes`: each deployed function answers on its route (read-only; failures count across runs);
- `deploy`: the latest production deploy is ready and lists the local functions; apply rolls
  back to the last good deploy or triggers a build hook, at most `max_actions` per `window`.

A host with no functions folder passes with "no Netlify functions here" (unless `required`).
"""

from __future__ import annotations

from runner.fields import Field, Fields
from runner.modules import ActionResult, Mode, ModuleCall

STATES = ("manifest", "valid", "backup", "probes", "deploy")


class Netlify:
    name = "netlify"
    doc = "Netlify Functions: manifest current, functions valid, backup, probes, deploys."
    fields: Fields = {
        "state": Field("str", "what to check or bring about", default="manifest",
                       choices=STATES),
        "site_path": Field("str", "the site's folder on the host", default="."),
        "functions_dir": Field("str", "the functions folder (default: from netlify.toml)"),
        "manifest": Field("str", "the manifest's file name (or path)",
                          default="functions-manifest.json"),
        "backup": Field("str", "the backup's file name (or path)",
                        default="functions-manifest.backup.json"),
        "required": Field("bool", "false: a host without functions passes", default=False),
        "auto_regenerate": Field("bool", "false: apply only reports what it would regenerate",
                                 default=True),
        "node": Field("str", "the node command on the host", default="node"),
        "concurrency": Field("int", "`node --check` runs at once (files that fail to compile)",
                             minimum=1, default=4),
        "url": Field("str", "the deployed site's URL, for probes"),
        "expect": Field("mapping", "expected status per function: {hello: 200}"),
        "max_latency": Field("duration", "the slowest acceptable probe answer", default="3s"),
        "probe_timeout": Field("duration", "how long one probe may take", default="10s"),
        "max_failures": Field("int", "consecutive failing probes (across runs) before failing",
                              minimum=1, default=3),
        "site_id": Field("str", "the Netlify site id (default: .netlify/state.json)"),
        "api_url": Field("str", "the Netlify API", default="https://api.netlify.com/api/v1"),
        "token_env": Field("str", "the environment variable holding the API token",
                           default="NETLIFY_AUTH_TOKEN"),
        "build_hook": Field("str", "a build hook id: triggered when no good deploy is left"),
        "probes_failed": Field("bool", "the probes of the current deploy failed (recover)",
                               default=False),
        "probed_at": Field("number", "when those probes ran (epoch seconds)", minimum=0),
        "max_actions": Field("int", "rollbacks and builds per window", minimum=0, default=2),
        "window": Field("duration", "the window of max_actions", default="24h"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        state = call.args["state"]
        if state == "probes":
            from runner.modules.netlify.probes import check_probes

            return check_probes(call)
        if state == "deploy":
            from runner.modules.netlify.deploy import deploy

            return deploy(call)
        return _files(call, state)


def _files(call: ModuleCall, state: str) -> ActionResult:
    from runner.modules.netlify import files
    from runner.modules.netlify.host import SiteError
    from runner.modules.netlify.site import Site

    site = Site(call)
    if call.mode is Mode.CHECK or state == "valid":
        check = {"manifest": files.check_manifest, "backup": files.check_backup}
        return check.get(state, files.check_valid)(call, site)
    try:
        apply = files.apply_manifest if state == "manifest" else files.apply_backup
        return apply(call, site)
    except SiteError as exc:  # a write failed: the recovery did not work
        return ActionResult(False, reason=str(exc))
