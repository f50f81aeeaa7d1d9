"""YAML merge keys (`<<: *base`) in playbooks, as Ansible reads them: explicit keys win, the
first of several merged mappings wins, a merged value that is no mapping is an input error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner import load
from runner.errors import InputError
from runner.load import yamlfile
from tests.helpers import run_book, write

BOOK = """
vars:
  base: &base {greeting: hello, who: world}
  greeting_vars:
    <<: *base
    who: merge
steps:
  - &step
    name: hello
    run: echo "{{ greeting_vars.greeting }} {{ greeting_vars.who }}"
    retries: 2
    tags: [t]
  - <<: *step
    name: again
    retries: 0
"""


def test_merge_keys_in_a_playbook(tmp_path: Path) -> None:
    outcome = run_book(write(tmp_path, BOOK))
    assert outcome.run.status == "ok"
    assert outcome.steps["hello"].stdout.strip() == "hello merge"
    assert outcome.steps["again"].stdout.strip() == "hello merge"
    book = load.load([str(tmp_path / "book.yml")], {}, dirs=[tmp_path])
    hello, again = book.steps
    assert (hello.retry.retries, again.retry.retries) == (2, 0)
    assert again.tags == frozenset({"t"}) and again.line_of("run") == 13  # the line of its `<<`


@pytest.mark.parametrize("text", [
    "a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n",
    "a: &a {x: 1, y: 2}\nc: &c {y: 5, z: 6}\nb:\n  <<: [*c, *a]\n  z: 0\n",
    "a: &a {x: 1}\nb: {<<: *a}\n",
    "a: &a\n  x: &x {deep: 1}\nb:\n  <<: *a\n  y: {<<: *x, more: 2}\n",
])
def test_merges_match_pyyaml(text: str) -> None:
    assert yamlfile.parse(text, "f.yml") == yaml.safe_load(text)


def test_merge_key_lines_and_errors() -> None:
    data = yamlfile.parse("a: &a {x: 1}\nb:\n  y: 2\n  <<: *a\n", "f.yml")
    assert data["b"].line_of("x") == 4 and data["b"].line_of("y") == 3
    with pytest.raises(InputError, match=r"f.yml:2: <<: expected a mapping or a list of "
                                         r"mappings to merge, found another value"):
        yamlfile.parse("a: 1\nb: {<<: [1]}\n", "f.yml")
    with pytest.raises(InputError, match="a second 'y'"):
        yamlfile.parse("a: &a {x: 1}\nb: {<<: *a, y: 1, y: 2}\n", "f.yml")
