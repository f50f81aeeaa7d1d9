"""Work that must grow linearly with the input, counted (not timed): the scheduler looks at
each step's needs a bounded number of times, however many steps wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.plan import Plan
from tests.helpers import run_book, write


@pytest.mark.parametrize("shape", ["chain", "fan"])
def test_scheduling_looks_at_needs_linearly(shape: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    count = 600
    steps = ["steps:"]
    for index in range(count):
        need = f"s{index - 1}" if shape == "chain" else "s0"
        steps.append(f"  - name: s{index}\n    run: 'true'" + (f"\n    needs: {need}"
                                                              if index else ""))
    book = write(tmp_path, "\n".join(steps) + "\n")
    calls = 0
    original = Plan.needs

    def counting(plan: Plan, key: tuple[str, str]) -> list[object]:
        nonlocal calls
        calls += 1
        return original(plan, key)  # type: ignore[return-value]

    monkeypatch.setattr(Plan, "needs", counting)
    outcome = run_book(book, check_mode=True)
    assert outcome.run.status == "ok" and len(outcome.steps) == count
    assert calls <= 6 * count  # quadratic rescans made it ~count**2 / 2 (180,000 here)
