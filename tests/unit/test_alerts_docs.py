"""docs/alerts.md is true: its configuration examples load, every channel URL it shows is one
Apprise accepts, and its custom templates render."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import config
from runner.notify.messages import compose
from tests.helpers import ROOT
from tests.integration.test_docs import blocks

DOC = ROOT / "docs" / "alerts.md"
EXAMPLES = [b for b in blocks(DOC, "yaml") if b.startswith("# urs.yml\n")]


def loaded(example: str, folder: Path) -> dict[str, object]:
    (folder / "urs.yml").write_text(example)
    return dict(config.load(folder, {"HOME": str(folder)}).sections["notifications"])


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_every_example_loads_and_apprise_accepts_its_channels(index: int,
                                                              tmp_path: Path) -> None:
    import apprise

    settings = loaded(EXAMPLES[index], tmp_path)
    channels = [*settings["channels"], *settings["escalate_to"]]  # type: ignore[misc]
    assert channels
    refused = [c for c in channels
               if not c.startswith("command:") and apprise.Apprise.instantiate(c) is None]
    assert refused == []


def test_the_documented_channels_cover_the_common_services() -> None:
    text = "\n".join(EXAMPLES)
    for start in ("json", "forms://", "mailto://", "hooks.slack.com", "discord://",
                  "logic.azure.com", "ntfy://", "ntfys://", "pagerduty://", "command:"):
        assert start in text, start
    assert len(EXAMPLES) == 3


def test_the_custom_templates_render(tmp_path: Path) -> None:
    [templated] = [e for e in EXAMPLES if "title:" in e]
    settings = loaded(templated, tmp_path)
    incidents = [{"event": "opened", "incident": n, "playbook": "health-system",
                  "host": host, "step": "disk-space", "status": "failed",
                  "reason": "91% used", "output": "", "run_id": "r1", "failures": 3,
                  "opened_at": 1000.0, "resolved_at": None} for n, host in ((1, "web-1"),
                                                                        (2, "web-2"))]
    message = compose("opened", "r1", incidents, settings)
    assert message.title == "OPENED: health-system/disk-space on web-1 (+1)"
    assert message.body == "web-1: disk-space failed (91% used)\n" \
                           "web-2: disk-space failed (91% used)\n"
