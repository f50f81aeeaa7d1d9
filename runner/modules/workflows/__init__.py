"""`workflows`: GitHub Actions workflow files valid and backed up, their runs healthy.

- `valid`: every `.github/workflows/*.yml|yaml` passes YAML, SchemaStore's workflow schema and
  the checks a schema cannot make (plus actionlint's findings where it is installed), and none
  listed in the backup index is missing; apply restores broken or missing files from backups
  that validate and match their checksum.
- `backed_up`: each valid workflow has a current backup; apply refreshes the stale ones.
- `runs` (GitHub API): no workflow's last runs all failed, no schedule overdue; apply re-runs
  failed jobs, dispatches `<name>-backup.yml` or an overdue workflow, capped per window.

Files are read and written through the host's connection; the API is called from the control
machine, with the token from its environment.
"""

from __future__ import annotations

from runner.fields import Field, Fields
from runner.modules import ActionResult, ModuleCall


class Workflows:
    name = "workflows"
    doc = "GitHub Actions workflow files valid and backed up; their runs healthy (GitHub API)."
    fields: Fields = {
        "state": Field("str", "valid, backed_up or runs", default="valid",
                       choices=("valid", "backed_up", "runs")),
        "repo_path": Field("str", "the git checkout (default: the current folder)",
                           default="."),
        "backup_dir": Field("str", "backups and their index, inside the checkout",
                            default=".github/workflows-backup"),
        "actionlint": Field("str", "actionlint command (its findings are added; empty: off)",
                            default="actionlint"),
        "repository": Field("str", "owner/name (default: $GITHUB_REPOSITORY, else the "
                                   "checkout's origin remote)"),
        "branch": Field("str", "the branch whose runs count (default: the default branch)"),
        "api_url": Field("str", "the GitHub API (default: $GITHUB_API_URL or GitHub's)"),
        "max_failures": Field("int", "failed runs in a row that fail the check", minimum=1,
                              default=3),
        "auto_trigger": Field("bool", "false: recovery only reports the triggers it would make",
                              default=True),
        "max_triggers": Field("int", "triggers per workflow per window", minimum=0, default=3),
        "trigger_window": Field("duration", "the window max_triggers counts in",
                                default="24h"),
        "api_timeout": Field("duration", "timeout of one API request", default="10s"),
    }

    def run(self, call: ModuleCall) -> ActionResult:
        from runner.modules.workflows import repository
        from runner.modules.workflows.tree import TreeError

        state = call.args["state"]
        try:
            if state == "valid":
                return repository.check_valid(call)
            if state == "backed_up":
                return repository.check_backed_up(call)
        except TreeError as exc:
            return ActionResult(False, reason=str(exc))
        from runner.modules.workflows import runs

        return runs.check_runs(call)
