"""Input that must be refused, not hung on: huge files, undecodable inventories."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_huge_and_undecodable_files_are_input_errors(tmp_path: Path) -> None:
    from runner.errors import InputError
    from runner.inventory.sources import load_inventory
    from runner.load.yamlfile import MAX_BYTES, read

    huge = tmp_path / "huge.yml"
    huge.write_text("steps:\n" + "  - {name: x, run: 'true'}\n" * (MAX_BYTES // 20))
    with pytest.raises(InputError, match="expected a file of at most"):
        read(huge)
    binary = tmp_path / "hosts"
    binary.write_bytes(b"\xff\xfe[web]\n\x00")
    with pytest.raises(InputError, match="expected a readable inventory"):
        load_inventory([str(binary)])
