"""Names and output an attacker or a careless user controls: graph escaping, terminal control
sequences in step output, host ranges past the cap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pydot
import pytest

from runner.redact import escape_controls
from runner.report.console import ConsoleReporter
from tests.helpers import urs, write

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot on pyparsing 3
NAMES = ['a"b', 'x" [color=red]; evil [label="y', "back\\", "semi;colon", "line\nbreak",
         "brace} digraph z {", "arrow --> s0"]


def _book(tmp_path: Path) -> Path:
    steps = "".join(f"  - name: {name!r}\n    run: 'true'\n" for name in NAMES[:1])
    for previous, name in itertools.pairwise(NAMES):
        steps += f"  - name: {_quoted(name)}\n    needs: {_quoted(previous)}\n    check: 'true'\n"
    return write(tmp_path, "name: 'we\"ird'\nsteps:\n" + steps)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_dot_output_parses_to_exactly_the_steps_and_edges(tmp_path: Path) -> None:
    result = urs("graph", str(_book(tmp_path)), "--format", "dot")
    assert result.returncode == 0, result.stderr
    (graph,) = pydot.graph_from_dot_data(result.stdout)
    names = {n.get_name() for n in graph.get_nodes()} - {"node", "graph", "edge"}
    assert len(names) == len(NAMES)
    assert all(n.get_attributes().keys() == {"shape"} for n in graph.get_nodes())
    assert len(graph.get_edges()) == len(NAMES) - 1
    assert "evil" not in {n.get_name() for n in graph.get_nodes()}
    assert len(graph.get_subgraphs()) == 0


def test_mermaid_labels_hold_no_syntax(tmp_path: Path) -> None:
    result = urs("graph", str(_book(tmp_path)), "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [line for line in lines[1:] if "-->" not in line or '"' in line]
    assert len(nodes) == len(NAMES)
    for line in nodes:  # one quoted label per node line, nothing after its closing bracket
        assert line.count('"') == 2, line
        assert line.rstrip().endswith(('"]', '"}')), line
    assert sum("-->" in line and '"' not in line for line in lines) == len(NAMES) - 1


def test_control_sequences_in_output_are_shown_escaped() -> None:
    hostile = "ok\x1b]0;pwned\x07\x1b[2J\x1b[1A\rhidden\x9b31m"
    assert escape_controls(hostile) == "ok\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1A\\x0dhidden\\x9b31m"
    assert escape_controls("tabs\tand unicode é stay") == "tabs\tand unicode é stay"


def test_console_never_writes_control_sequences_from_step_output(tmp_path: Path) -> None:
    book = write(tmp_path, "steps:\n  - name: loud\n    run: printf 'a\\033]0;x\\007\\033[2Jb'; "
                 "exit 3\n")
    result = urs("run", str(book), env={"URS_STORE": str(tmp_path / "s.db")})
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "a\\x1b]0;x\\x07\\x1b[2Jb" in result.stdout
    assert ConsoleReporter  # the reporter urs uses is the one patched


def test_host_range_past_the_cap_is_an_input_error(tmp_path: Path) -> None:
    inv = write(tmp_path, "[web]\nok[1:3]\nh[0:999999999]\n", "hosts.ini")
    result = urs("inventory", "-i", str(inv), "--list")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {inv}:3: expected a valid host range, found host "
                                    "range [0:999999999] has 1000000000 hosts (at most 100000 per "
                                    "pattern)")
    nested = write(tmp_path, "all:\n  hosts:\n    'h[0:999][0:999]':\n", "hosts.yml")
    result = urs("inventory", "-i", str(nested), "--list")
    assert result.returncode == 2 and f"{nested}:3:" in result.stderr
    assert "more than 100000 hosts" in result.stderr
