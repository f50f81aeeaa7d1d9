"""Where the API steps find their token, API, repository and branch: the step's arguments,
else the control machine's environment (GITHUB_TOKEN or GH_TOKEN, GITHUB_API_URL,
GITHUB_REPOSITORY, GITHUB_REF_NAME), else the checkout's `origin` remote on the host."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from runner.fields import parse_duration
from runner.modules import ModuleCall

PUBLIC_API = "https://api.github.com"
_REMOTE = re.compile(r"[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Settings:
    token: str = field(repr=False)
    api_url: str
    repository: str
    branch: str  # "" : the repository's default branch
    timeout: float


def environment(call: ModuleCall) -> dict[str, str]:
    env = call.vars.get("env")
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else dict(os.environ)


def resolve(call: ModuleCall) -> Settings | str:
    """The settings, or why the API steps are skipped (no token, no repository)."""
    env = environment(call)
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        return "no GITHUB_TOKEN or GH_TOKEN in the environment: GitHub API checks skipped"
    repository = str(call.args.get("repository") or env.get("GITHUB_REPOSITORY") or "") \
        or origin_repository(call)
    if not repository:
        return ("no repository: set GITHUB_REPOSITORY=owner/name or give the checkout an "
                "origin remote; GitHub API checks skipped")
    api_url = str(call.args.get("api_url") or env.get("GITHUB_API_URL") or PUBLIC_API)
    branch = str(call.args.get("branch") or env.get("GITHUB_REF_NAME") or "")
    timeout = parse_duration(call.args.get("api_timeout")) or 10.0
    return Settings(token, api_url, repository, branch, timeout)


def origin_repository(call: ModuleCall) -> str:
    """owner/name from the checkout's origin remote (git on the host), or ""."""
    repo = shlex.quote(str(call.args["repo_path"]))
    res = call.sh(f"git -C {repo} remote get-url origin 2>/dev/null || true")
    found = _REMOTE.search(res.stdout.strip())
    return f"{found.group(1)}/{found.group(2)}" if found else ""
