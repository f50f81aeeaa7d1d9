"""Variables render as ansible-core renders them, compared on the same files: lazily (a var
may use one defined later, in the inventory or given by -e), defaults seeing the final value
of what they use, inventory templates rendered, strings never retyped, loops named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import urs

INVENTORY = """[web]
web1 ansible_connection=local base=http://web1 url="{{ base }}/x"
"""
CASES: dict[str, dict[str, Any]] = {
    "defined later and by -e": {
        "vars": {"hdr": "Bearer {{ tkn }}", "tkn": "t-{{ suffix }}", "suffix": "123"},
        "extra": ["suffix=999"], "msg": "{{ hdr }}",
    },
    "inventory templates": {"vars": {"full": "{{ url }}/health"}, "msg": "{{ full }}"},
    "strings keep their text": {
        "vars": {"ver": "1.10", "v": "{{ ver }}", "hexy": "0x1F", "h": "{{ hexy }}",
                 "octal": "010", "o": "{{ octal }}"},
        "msg": "{{ v }}|{{ h }}|{{ o }}",
    },
    "numbers stay numbers": {
        "vars": {"offset": 80, "listen": "{{ 8000 + offset | int }}"},
        "msg": "{{ listen + 1 }}",
    },
    "defaults see overrides": {
        "defaults": {"endpoint": "http://{{ host_ip }}:{{ port }}", "port": 80,
                     "host_ip": "127.0.0.1"},
        "vars": {"port": 8080}, "extra": ["host_ip=10.0.0.9"], "msg": "{{ endpoint }}",
    },
    "nested values": {
        "vars": {"user": "ops", "conf": {"who": "{{ user }}", "list": ["{{ user }}-1"]}},
        "msg": "{{ conf.who }} {{ conf.list[0] }}",
    },
}


def _ansible(tmp: Path, case: dict[str, Any]) -> str:
    exe = shutil.which("ansible-playbook")
    assert exe, "ansible-core is a test dependency"
    role = tmp / "roles" / "r"
    (role / "defaults").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump(case.get("defaults", {})))
    (role / "tasks" / "main.yml").write_text(yaml.safe_dump([{"debug": {"msg": case["msg"]}}]))
    play = [{"hosts": "web", "gather_facts": False, "vars": case.get("vars", {}),
             "roles": ["r"]}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    (tmp / "inv.ini").write_text(INVENTORY)
    extra = [a for e in case.get("extra", []) for a in ("-e", e)]
    out = subprocess.run([exe, "-i", "inv.ini", "play.yml", *extra], capture_output=True,
                         text=True, cwd=tmp, check=False, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), "ANSIBLE_NOCOLOR": "1",
                              "ANSIBLE_LOCALHOST_WARNING": "0"})
    match = re.search(r"^\s+\"msg\": (.*)$", out.stdout, re.M)
    assert match, out.stdout + out.stderr
    return str(json.loads(match.group(1)))


def _urs(tmp: Path, case: dict[str, Any]) -> str:
    book = {"hosts": "web", "defaults": case.get("defaults", {}), "vars": case.get("vars", {}),
            "steps": [{"name": "show", "run": "printf '%s' \"$MSG\"",
                       "env": {"MSG": case["msg"]}}]}
    (tmp / "book.yml").write_text(yaml.safe_dump(book))
    (tmp / "inv.ini").write_text(INVENTORY)
    extra = [a for e in case.get("extra", []) for a in ("-e", e)]
    out = urs("run", "book.yml", "-i", "inv.ini", *extra, "--json", cwd=tmp,
              env={"URS_STORE": str(tmp / "s.db")})
    assert out.returncode == 0, out.stdout + out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    (step,) = [e for e in events if e["event"] == "step_finished"]
    return str(step["stdout"])


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_rendered_as_ansible_renders(case: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "u").mkdir()
    theirs = _ansible(tmp_path / "a", case)
    assert _urs(tmp_path / "u", case) == theirs


def test_a_loop_is_named_where_ansible_reports_recursion(tmp_path: Path) -> None:
    case = {"vars": {"a": "{{ b }}-x", "b": "{{ c }}", "c": "{{ a }}", "fine": "ok"},
            "msg": "{{ a }}"}
    with pytest.raises(AssertionError):  # ansible-playbook fails on the loop too
        _ansible(tmp_path, case)
    (tmp_path / "u").mkdir()
    book = {"vars": case["vars"], "steps": [
        {"name": "uses-loop", "run": "echo {{ a }}"},
        {"name": "unaffected", "run": "echo {{ fine }}"}]}
    (tmp_path / "u" / "book.yml").write_text(yaml.safe_dump(book))
    out = urs("run", "book.yml", "--json", cwd=tmp_path / "u",
              env={"URS_STORE": str(tmp_path / "s.db")})
    events = {e["step"]: e for e in map(json.loads, out.stdout.splitlines())
              if e["event"] == "step_finished"}
    assert out.returncode == 1
    assert events["uses-loop"]["status"] == "error"
    assert "variables refer to each other in a loop: a -> b -> c -> a" in \
        events["uses-loop"]["reason"]
    assert events["unaffected"]["status"] == "ok"
