"""Native typing never changes strings: `{{ v }}` with v = "1.10" stays 1.10 in run, env and
cwd; only module fields that take a number convert the rendered text."""

from __future__ import annotations

import socket
from pathlib import Path

from runner.templating import render
from tests.helpers import run_book, write


def test_lone_templates_keep_the_value_as_it_is() -> None:
    context = {"ver": "1.10", "hexy": "0x1F", "octal": "010", "n": 5, "items": [1, "2"]}
    assert render("{{ ver }}", context) == "1.10"
    assert render("{{ hexy }}", context) == "0x1F"
    assert render("{{ octal }}", context) == "010"
    assert render("{{ n }}", context) == 5
    assert render("{{ items }}", context) == [1, "2"]
    assert render("{{ 2 + 3 }}", context) == 5  # folded at compile time: still a number
    assert render("v{{ n }}", context) == "v5"
    assert render("{{ n }}{{ n }}", context) == "55"


def test_run_env_and_cwd_see_strings_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "1.10"
    folder.mkdir()
    book = write(tmp_path, f"""
vars:
  ver: "1.10"
  hexy: "0x1F"
  where: "{tmp_path}/{{{{ ver }}}}"
steps:
  - name: show
    run: echo "{{{{ ver }}}} {{{{ hexy }}}} $V $H $(basename "$PWD")"
    env: {{V: "{{{{ ver }}}}", H: "{{{{ hexy }}}}"}}
    cwd: "{{{{ where }}}}"
""")
    outcome = run_book(book)
    assert outcome.steps["show"].stdout.strip() == "1.10 0x1F 1.10 0x1F 1.10"


def test_module_fields_that_take_numbers_convert(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        book = write(tmp_path, f"""
vars:
  port_text: "{port}"
steps:
  - name: open
    tcp: {{host: 127.0.0.1, port: "{{{{ port_text }}}}"}}
""")
        outcome = run_book(book)
    assert outcome.steps["open"].status == "ok", outcome.steps["open"].reason


def test_a_variable_that_cannot_render_fails_only_where_used_naming_itself() -> None:
    from runner.templating import TemplateFailure
    from runner.templating.variables import resolve

    context = resolve([{"a": "{{ b }}", "b": "{{ a }}", "c": "{{ nope }}", "d": "x{{ c }}",
                        "fine": 1}], {"env": {}})
    assert render("{{ fine }}", context) == 1
    for template, message in (("{{ a }}", "variables refer to each other in a loop: a -> b -> a"),
                              ("{{ d }}", "vars: c: undefined variable: 'nope' is undefined"),
                              ("{{ c }}y", "vars: c: undefined variable: 'nope' is undefined"),
                              ("{{ c is defined }}", None)):
        try:
            assert render(template, context) is False and message is None
        except TemplateFailure as exc:
            assert str(exc) == message
