"""SSH host keys, as `--known-hosts`/`--host-key-policy` and urs.yml's `ssh` section say: the
known_hosts file loaded into a paramiko client with the policy for a key not in it (strict
refuses, accept-new appends it as OpenSSH's StrictHostKeyChecking=accept-new does, off checks
no key), and what a refused key is told as. Imported with ssh.py, only for SSH hosts."""

from __future__ import annotations

from pathlib import Path

import paramiko


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Remember unknown keys; a changed one is refused (paramiko compares the loaded keys)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as known:
            known.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class _Accept(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        return None


def use(client: paramiko.SSHClient, known_hosts: Path | None, policy: str) -> Path:
    """Load the known hosts and set the policy for a key not among them; the file's path."""
    path = known_hosts or Path.home() / ".ssh" / "known_hosts"
    if policy != "off" and path.is_file():
        client.load_host_keys(str(path))
    if policy == "strict":
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    elif policy == "accept-new":
        client.set_missing_host_key_policy(_AcceptNew(path))
    else:
        client.set_missing_host_key_policy(_Accept())
    return path


def mismatch(exc: paramiko.BadHostKeyException, where: str, known_hosts: Path) -> str:
    return (f"host key mismatch for {where}: expected {exc.expected_key.get_name()} "
            f"{_fingerprint(exc.expected_key)} ({known_hosts}), got {_fingerprint(exc.key)}; "
            "refusing to connect")


def unknown(where: str, known_hosts: Path) -> str:
    return (f"unknown host key for {where} (not in {known_hosts}; add it, or set the host key "
            "policy to accept-new: --host-key-policy, ssh.host_key_policy in urs.yml)")


def _fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint if hasattr(key, "fingerprint") else key.get_base64()[:16]
