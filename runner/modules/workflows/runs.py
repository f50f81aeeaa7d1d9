"""placeholder"""
from runner.modules import ActionResult, ModuleCall


def check_runs(call: ModuleCall) -> ActionResult:
    return ActionResult(False, skipped=True, reason="no GITHUB_TOKEN")
