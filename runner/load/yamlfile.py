"""Safe, bounded YAML loading that remembers where every key came from.

Mappings load as `Node` (a dict with the line of each key), sequences as `Seq` (a list with
the line of each item). Duplicate keys, alias bombs and oversized documents are input errors,
never a hang or a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

from runner.errors import InputError

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64  # levels of nesting: no playbook needs more, and every reader may recurse
MERGE_TAG = "tag:yaml.org,2002:merge"


class Node(dict[str, Any]):
    """A YAML mapping with the 1-based line of the mapping and of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list[Any]):
    """A YAML sequence with the 1-based line of the sequence and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~5x faster


class _Loader(_Base):  # type: ignore[misc]
    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self.file = file

    def construct_yaml_map(self, node: MappingNode) -> Any:
        data = Node()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        merges = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.append((key_node.start_mark.line + 1, value_node))
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                key = str(key)
            if key in data.key_lines:
                raise InputError.one(
                    self.file, line, key, "each key once",
                    f"a second '{key}' (first on line {data.key_lines[key]})",
                )
            data.key_lines[key] = line
            data[key] = self.construct_object(value_node, deep=True)
        for line, value_node in merges:
            self._merge(data, line, value_node)

    def _merge(self, data: Node, line: int, value_node: Any) -> None:
        """`<<: *base` or `<<: [*a, *b]`: keys the mapping lacks, the first source winning."""
        value = self.construct_object(value_node, deep=True)
        for source in value if isinstance(value, list) else [value]:
            if not isinstance(source, dict):
                raise InputError.one(self.file, line, "<<", "a mapping or a list of mappings "
                                     "to merge", "another value")
            for key, item in source.items():
                if key not in data.key_lines:
                    data.key_lines[key] = line
                    data[key] = item

    def construct_yaml_seq(self, node: SequenceNode) -> Any:
        data = Seq()
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        yield data
        data.extend(self.construct_object(c, deep=True) for c in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_yaml_seq)


def parse(text: str, file: str) -> Any:
    """Parse one YAML document; errors name the file and line."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise InputError.one(file, None, "", f"a file of at most {MAX_BYTES} bytes", "a larger one")
    loader = _Loader(text, file)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        found = str(exc.problem or exc).removeprefix("found ")
        raise InputError.one(file, line, "", "valid YAML", found) from None
    except yaml.YAMLError as exc:
        raise InputError.one(file, None, "", "valid YAML", str(exc)) from None
    except RecursionError:
        raise InputError.one(file, None, "", f"at most {MAX_DEPTH} levels of nesting",
                             "more") from None
    finally:
        loader.dispose()
    size, depth = _expanded_size(data, MAX_NODES)
    if size > MAX_NODES:
        raise InputError.one(file, None, "", f"at most {MAX_NODES} values with aliases expanded",
                             "more (an alias bomb?)")
    if depth > MAX_DEPTH:
        raise InputError.one(file, None, "", f"at most {MAX_DEPTH} levels of nesting",
                             f"{depth} or more")
    return data


def _expanded_size(data: Any, budget: int) -> tuple[int, int]:
    """Count values as a consumer walking the document would see them, and the deepest
    nesting, stopping past budget or MAX_DEPTH."""
    count = deepest = 0
    stack = [(data, 1)]
    while stack and count <= budget and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
    return count, deepest


def read(path: Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is an input error."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError.one(str(path), None, "", f"a file of at most {MAX_BYTES} bytes",
                                 f"{size} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.one(str(path), None, "", "an existing file", "none") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one(str(path), None, "", "a readable UTF-8 file", str(exc)) from None
    return parse(text, str(path))
