"""What a module did in earlier runs reaches it through the store, so caps per window hold
across separate runs; check-mode runs never count."""

from __future__ import annotations

import uuid
from pathlib import Path

from runner import pipeline
from runner.fields import Field
from runner.modules import ActionResult, Mode, ModuleCall, registry
from tests.helpers import write


class Trigger:
    """Triggers `target` unless it was triggered `cap` times within the window already."""

    name = "trigger"
    doc = "test module"
    fields = {"target": Field("str", "what to trigger", required=True),
              "cap": Field("int", "at most this many per hour", default=2)}

    def run(self, call: ModuleCall) -> ActionResult:
        target = str(call.args["target"])
        done = call.actions_since("trigger", target, 3600)
        if done >= int(call.args["cap"]):
            return ActionResult(False, reason=f"cap reached: {done} triggers of {target}")
        if call.mode is Mode.CHECK:
            return ActionResult(False, reason=f"would trigger {target}")
        return ActionResult(True, changed=True, stdout=f"triggered after {done}",
                            fields={"actions": [{"kind": "trigger", "target": target}]})


def _run(book: Path, store: Path, check_mode: bool = False) -> str:
    from runner.events import StepFinished

    loaded = pipeline.prepare([str(book)], [], [], None, {**registry(), "trigger": Trigger()})
    seen: list[str] = []

    class Watch:
        def notify(self, event: object) -> None:
            if isinstance(event, StepFinished):
                seen.append(event.result.reason or event.result.stdout)

    pipeline.run(loaded, pipeline.Options(run_id=uuid.uuid4().hex, store=store,
                                          check_mode=check_mode, observers=(Watch(),)))
    return seen[0]


def test_a_cap_per_window_holds_across_separate_runs(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    book = write(tmp_path, "steps: [{name: kick, trigger: {target: backup.yml}}]")
    from runner.modules import registry as real

    assert "trigger" not in real()
    assert _run(book, store, check_mode=True).startswith("would trigger backup.yml")
    assert _run(book, store) == "triggered after 0"  # the check-mode run did not count
    assert _run(book, store) == "triggered after 1"
    assert _run(book, store) == "cap reached: 2 triggers of backup.yml"
    other = write(tmp_path, "steps: [{name: kick, trigger: {target: other.yml}}]", "b.yml")
    assert _run(other, store) == "triggered after 0"


class Probe:
    """Fails for real only after `threshold` consecutive failing probes, counted across runs;
    skipped when it has no URL."""

    name = "probe"
    doc = "test module"
    fields = {"up": Field("bool", "is it up", default=True),
              "url": Field("str", "where")}

    def run(self, call: ModuleCall) -> ActionResult:
        if not call.args.get("url"):
            return ActionResult(False, skipped=True, reason="no url given")
        if call.args["up"]:
            return ActionResult(True, stdout="up")
        streak = 1
        for past in call.previous:
            if not past.fields.get("probe_failed"):
                break
            streak += 1
        fields = {"probe_failed": True, "streak": streak}
        if streak < 3:
            return ActionResult(True, stdout=f"down {streak} times in a row", fields=fields)
        return ActionResult(False, reason=f"down {streak} times in a row", fields=fields)


def test_a_module_counts_consecutive_failures_across_runs_and_can_skip(tmp_path: Path) -> None:
    from runner.events import StepFinished

    store = tmp_path / "store.db"
    modules = {**registry(), "probe": Probe()}

    def once(text: str, name: str = "book.yml") -> tuple[str, str]:
        book = write(tmp_path, text, name)
        loaded = pipeline.prepare([str(book)], [], [], None, modules)
        seen: list[tuple[str, str]] = []

        class Watch:
            def notify(self, event: object) -> None:
                if isinstance(event, StepFinished):
                    seen.append((str(event.result.status),
                                 event.result.reason or event.result.stdout))

        pipeline.run(loaded, pipeline.Options(run_id=uuid.uuid4().hex, store=store,
                                              observers=(Watch(),)))
        return seen[0]

    down = "steps: [{name: p, probe: {url: x, up: false}}, {name: q, needs: p, run: 'true'}]"
    assert once(down) == ("ok", "down 1 times in a row")
    assert once(down) == ("ok", "down 2 times in a row")
    assert once(down) == ("failed", "down 3 times in a row")
    assert once("steps: [{name: p, probe: {url: x}}]") == ("ok", "up")
    assert once(down) == ("ok", "down 1 times in a row")  # the streak was broken
    skipped = "steps: [{name: p, probe: {}}, {name: q, needs: p, run: 'echo ran'}]"
    assert once(skipped, "skip.yml") == ("skipped", "no url given")


class Sloppy:
    """Reports what it did in a shape the store cannot count."""

    name = "sloppy"
    doc = "test module"
    fields: dict[str, Field] = {}

    def run(self, call: ModuleCall) -> ActionResult:
        return ActionResult(True, changed=True, fields={"actions": ["restarted web"]})


def test_a_module_reporting_actions_of_another_shape_is_an_error_and_recorded(
        tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    store = tmp_path / "store.db"
    book = write(tmp_path, "steps: [{name: kick, sloppy: {}}]")
    loaded = pipeline.prepare([str(book)], [], [], None, {**registry(), "sloppy": Sloppy()})
    result = pipeline.run(loaded, pipeline.Options(run_id=uuid.uuid4().hex, store=store))
    [step] = result.hosts[0].steps
    assert step.status == "error"
    assert step.reason == ("sloppy: reported fields['actions'] as ['restarted web']; expected "
                           "a list of {'kind': str, 'target': str}")
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT status FROM step_outcomes").fetchall() == [("error",)]
