"""How the graph runs: order, parallelism, failure isolation, `when` on results."""

from __future__ import annotations

import itertools
from pathlib import Path

from runner.connections import CommandResult
from runner.model import Status
from tests.helpers import Scripted, run_book, write

OK = CommandResult(0, "", "")
FAIL = CommandResult(1, "", "boom")


def test_diamond_runs_every_step_once_in_dependency_order(tmp_path: Path) -> None:
    log = tmp_path / "log"
    book = write(tmp_path, f"""
steps:
  - {{name: top, run: "echo top >> {log}"}}
  - {{name: left, needs: top, run: "echo left >> {log}"}}
  - {{name: right, needs: top, run: "echo right >> {log}"}}
  - {{name: bottom, needs: [left, right], run: "echo bottom >> {log}"}}
""")
    out = run_book(book)
    order = log.read_text().split()
    assert sorted(order) == ["bottom", "left", "right", "top"]
    assert order[0] == "top" and order[-1] == "bottom"
    assert out.run.exit_code == 0
    assert {s.status for s in out.steps.values()} == {Status.OK}


def test_failure_skips_only_dependents_and_independent_branches_go_on(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: broken, run: "exit 3"}
  - {name: child, needs: broken, run: "true"}
  - {name: grandchild, needs: child, run: "true"}
  - {name: other, run: "true"}
  - {name: other-child, needs: other, run: "true"}
""")
    out = run_book(book)
    assert out.status("broken") == "failed"
    assert out.steps["broken"].rc == 3
    assert out.status("child") == "skipped"
    assert out.steps["child"].reason == "needs broken, which failed"
    assert out.status("grandchild") == "skipped"
    assert out.steps["grandchild"].reason == "needs child, which was skipped"
    assert out.status("other") == "ok" and out.status("other-child") == "ok"
    assert out.run.exit_code == 1


def test_fan_out_steps_overlap_and_dependents_start_after_needs_end(tmp_path: Path) -> None:
    # a barrier: each branch waits until all three have started; one at a time, none could pass
    meet = tmp_path / "meet"
    meet.mkdir()
    barrier = write(tmp_path, f"""touch {meet}/$1; i=0
while [ "$(ls {meet} | wc -l)" -lt 3 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
[ "$(ls {meet} | wc -l)" -eq 3 ]
""", "barrier.sh")
    book = write(tmp_path, f"""
concurrency: 3
steps:
  - {{name: root, run: "true"}}
  - {{name: a, needs: root, run: "sh {barrier} a"}}
  - {{name: b, needs: root, run: "sh {barrier} b"}}
  - {{name: c, needs: root, run: "sh {barrier} c"}}
  - {{name: join, needs: [a, b, c], run: "true"}}
""")
    steps = run_book(book).steps
    assert {s: steps[s].status for s in "abc"} == dict.fromkeys("abc", Status.OK)
    for branch in (steps["a"], steps["b"], steps["c"]):
        assert branch.started_at >= steps["root"].ended_at
        assert steps["join"].started_at >= branch.ended_at


def test_concurrency_one_runs_steps_one_at_a_time(tmp_path: Path) -> None:
    book = write(tmp_path, """
concurrency: 1
steps:
  - {name: a, run: "sleep 0.1"}
  - {name: b, run: "sleep 0.1"}
  - {name: c, run: "sleep 0.1"}
""")
    steps = sorted(run_book(book).steps.values(), key=lambda r: r.started_at)
    assert [s.step for s in steps] == ["a", "b", "c"]  # ties broken by file order
    for earlier, later in itertools.pairwise(steps):
        assert later.started_at >= earlier.ended_at


def test_when_reads_a_dependency_result(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: probe, run: "echo degraded; exit 1", ignore_errors: true}
  - name: fix
    needs: probe
    when: steps.probe.rc != 0 and 'degraded' in steps.probe.stdout
    run: echo fixing
  - name: celebrate
    needs: probe
    when: steps.probe.status == 'ok'
    run: echo yay
""")
    out = run_book(book)
    assert out.steps["probe"].status is Status.FAILED and out.steps["probe"].ignored
    assert out.status("fix") == "ok" and out.steps["fix"].stdout == "fixing\n"
    assert out.status("celebrate") == "skipped"
    assert out.steps["celebrate"].reason.startswith("when was false")
    assert out.run.exit_code == 0  # an ignored failure does not fail the run


def test_skipped_by_when_does_not_skip_dependents(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: optional, when: false, run: "true"}
  - {name: after, needs: optional, run: "true"}
""")
    out = run_book(book)
    assert out.status("optional") == "skipped" and out.status("after") == "ok"


def test_check_recover_outcomes_with_scripted_connection(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: healthy, check: probe-healthy, recover: fix-healthy}
  - {name: fixable, check: probe-fixable, recover: fix-fixable}
  - {name: hopeless, check: probe-hopeless, recover: fix-hopeless}
  - {name: no-recover, check: probe-hopeless}
""")
    state = {"fixed": False}

    class Fixable(Scripted):
        def run(self, command: str, **kw: object) -> CommandResult:  # type: ignore[override]
            if command == "fix-fixable":
                state["fixed"] = True
            if command == "probe-fixable":
                self.calls.append(command)
                return OK if state["fixed"] else FAIL
            return super().run(command)

    conn = Fixable([("probe-healthy", OK), ("probe-hopeless", FAIL), ("fix-", OK)])
    out = run_book(book, connect=lambda host: conn)
    assert out.status("healthy") == "ok"
    assert out.status("fixable") == "recovered"
    assert out.status("hopeless") == "failed"
    assert out.steps["hopeless"].reason.startswith("still failing after recovery")
    assert out.status("no-recover") == "failed"
    assert "fix-healthy" not in conn.calls
    assert conn.calls.count("probe-fixable") == 2


def test_check_mode_runs_checks_but_no_recovery_or_run_steps(tmp_path: Path) -> None:
    marker = tmp_path / "changed"
    book = write(tmp_path, f"""
steps:
  - {{name: probe, check: "test -e {marker}", recover: "touch {marker}"}}
  - {{name: act, run: "touch {marker}"}}
  - {{name: fine, check: "true"}}
""")
    out = run_book(book, check_mode=True)
    assert not marker.exists()
    assert out.status("probe") == "failed"
    assert out.steps["probe"].reason.endswith(f"would recover: touch {marker}")
    assert out.status("act") == "skipped"
    assert out.steps["act"].reason == f"check mode: would run touch {marker}"
    assert out.status("fine") == "ok"


def test_tags_and_skip_tags(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: disk, tags: [disk], run: "true"}
  - {name: mem, tags: [memory], run: "true"}
  - {name: untagged, run: "true"}
""")
    only = run_book(book, tags=frozenset({"disk"}))
    assert [only.status(s) for s in ("disk", "mem", "untagged")] == ["ok", "skipped", "skipped"]
    assert only.steps["mem"].reason == "excluded by tags"
    skip = run_book(book, skip_tags=frozenset({"disk"}))
    assert [skip.status(s) for s in ("disk", "mem", "untagged")] == ["skipped", "ok", "ok"]


def test_env_cwd_ok_codes_and_step_results_in_templates(tmp_path: Path) -> None:
    book = write(tmp_path, """
vars: {word: "it's quoted"}
steps:
  - name: where
    cwd: /tmp
    env: {GREETING: "{{ word }}"}
    run: 'pwd; echo "$GREETING"; exit 3'
    ok_codes: [0, 3]
  - name: echo-back
    needs: where
    run: echo {{ steps.where.stdout.splitlines()[1] | quote }} {{ steps.where.rc }}
""")
    out = run_book(book)
    assert out.steps["where"].stdout == "/tmp\nit's quoted\n"
    assert out.status("where") == "ok" and out.steps["where"].rc == 3
    assert out.steps["echo-back"].stdout == "it's quoted 3\n"


def test_undefined_variable_at_run_time_names_the_step(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: first, run: "true"}
  - {name: second, needs: first, run: "echo {{ steps.first.nothing }}"}
""")
    out = run_book(book)
    assert out.status("second") == "error"
    assert out.steps["second"].reason.startswith("second: undefined variable")
    assert "nothing" in out.steps["second"].reason


def test_combined_playbooks_run_as_one_graph(tmp_path: Path) -> None:
    write(tmp_path, "steps: [{name: a, run: 'true'}]", "one.yml")
    write(tmp_path, "steps: [{name: a, run: 'exit 1'}, {name: b, needs: a, run: 'true'}]",
          "two.yml")
    book = write(tmp_path, "playbooks: [one, two]", "both.yml")
    out = run_book(book)
    results = {(e.result.playbook, e.result.step): e.result.status
               for e in out.events.events if hasattr(e, "result") and hasattr(e.result, "step")}
    assert results == {("one", "a"): Status.OK, ("two", "a"): Status.FAILED,
                       ("two", "b"): Status.SKIPPED}


def test_module_arguments_from_text_are_typed(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - name: port
    tcp: {port: "{{ port }}", state: closed}
""")
    out = run_book(book, extra={"port": "1"})
    assert out.status("port") == "ok", out.steps["port"].reason
    bad = run_book(book, extra={"port": "eighty"})
    assert bad.status("port") == "error"
    assert bad.steps["port"].reason == (
        "tcp: port: expected a port (1 to 65535) or a list of ports, found 'eighty'")


def test_become_runs_the_step_as_another_user(tmp_path: Path) -> None:
    book = write(tmp_path, """
steps:
  - {name: as-nobody, become: true, become_user: nobody, run: 'id -un'}
  - {name: as-me, run: 'id -un'}
""")
    out = run_book(book)
    assert out.steps["as-nobody"].stdout == "nobody\n", out.steps["as-nobody"].reason
    assert out.steps["as-me"].stdout != "nobody\n"
