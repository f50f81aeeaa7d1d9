"""Hostile and random input (hypothesis): mutated valid playbooks, inventories (INI, YAML,
folders), `-e` values and configuration files, random YAML and INI, deep nesting, anchors, NUL
and non-UTF-8 bytes. The only exception that may escape is the project's InputError, each of
its problems naming where it came from; every case stays within a bound of time (hypothesis's
deadline) and memory (tracemalloc's peak), bounds the code enforces with its input limits."""

from __future__ import annotations

import contextlib
import os
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runner import config, load, plan
from runner.errors import InputError
from runner.inventory.sources import load_inventory
from runner.modules import registry
from tests.helpers import ROOT

DATA = ROOT / "tests" / "data"
PLAYBOOKS = [p.read_bytes() for p in sorted((DATA / "valid").glob("*.yml"))]
INVENTORIES = [p.read_bytes() for p in sorted((DATA / "inventories").iterdir()) if p.is_file()]
CONFIGS = [b"store: /tmp/x.db\njobs:\n  health:\n    playbooks: [health]\n    interval: 30s\n",
           b"auto_recovery: {enabled: false}\nlog: {level: debug}\n"]
MEMORY_BOUND = 256 * 1024 * 1024  # bytes one case may hold at its peak
FUZZ = settings(max_examples=int(os.environ.get("URS_FUZZ_EXAMPLES", "60")), deadline=5000,
                derandomize="URS_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MODULES = {k: m.fields for k, m in registry().items()}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["on", "no", "{{ x }}", "{{", "a:b",
                                                           "[", "*", "&a", "<<", "\x00"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["steps", "name", "run", "needs", "hosts", "vars", "children", "check", "recover",
         "when", "<<", "jobs", "store"]), inner, max_size=4)), max_leaves=20)


def _mutated(corpus: list[bytes]) -> st.SearchStrategy[bytes]:
    """A corpus file with bytes deleted, replaced or inserted (NUL, invalid UTF-8, syntax)."""
    noise = st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b":", b"-", b"[", b"]", b"{{",
                             b"&a ", b"*a", b"<<: *a", b"\n  ", b"\t", b"#", b"=", b"'", b'"'])

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(corpus)))
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(data)))
            kind = draw(st.integers(0, 2))
            if kind == 0 and data:
                del data[at:at + draw(st.integers(1, 8))]
            else:
                data[at:at + kind - 1] = draw(noise)
        return bytes(data)
    return mutate()


def _nested(depth: int, kind: str) -> bytes:
    if kind == "flow":
        return b"steps: " + b"[" * depth + b"]" * depth + b"\n"
    if kind == "block":
        return b"".join(b"  " * i + b"k:\n" for i in range(depth))
    anchors = b"a0: &a0 [x, x]\n" + b"".join(
        b"a%d: &a%d [*a%d, *a%d]\n" % (i, i, i - 1, i - 1) for i in range(1, depth))
    return anchors + b"steps: *a%d\n" % (depth - 1)


hostile = st.one_of(
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode("utf-8", "replace")),
    st.builds(_nested, st.integers(1, 300), st.sampled_from(["flow", "block", "anchors"])),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """The case's peak memory stays within MEMORY_BOUND (time: hypothesis's deadline)."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < MEMORY_BOUND, f"peak memory {peak} bytes"
    finally:
        tracemalloc.stop()


def only_input_errors(action: Callable[[], Any]) -> None:
    with bounded():
        try:
            action()
        except InputError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.file, problem  # every problem says where it came from
                assert "Traceback" not in str(problem)


def _in_folder(write: Callable[[Path], Path], action: Callable[[Path], Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        only_input_errors(lambda: action(write(Path(folder))))


def _playbook(data: bytes) -> None:
    def write(folder: Path) -> Path:
        (folder / "book.yml").write_bytes(data)
        return folder / "book.yml"

    def act(path: Path) -> None:
        book = load.load([str(path)], MODULES, dirs=[path.parent], known=())
        plan.build(book, ())
    _in_folder(write, act)


@FUZZ
@given(_mutated(PLAYBOOKS) | hostile)
def test_playbook_loader(data: bytes) -> None:
    _playbook(data)


@FUZZ
@given(_mutated(INVENTORIES) | hostile, st.sampled_from(["hosts.ini", "hosts.yml", "hosts"]))
@example(b"[web]\nh[0:999999999]\n", "hosts.ini")
@example(b"all:\n  hosts:\n    'h[0:9999][0:9999]':\n", "hosts.yml")
@example(b"a: &a\n  <<: *a\n", "hosts.yml")
@example(b"[g]\nh\x00 x=\xff\n[g:children]\ng\n", "hosts")
def test_inventory_files(data: bytes, name: str) -> None:
    def write(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    _in_folder(write, lambda path: load_inventory([str(path)]))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["hosts.ini", "b.yml", "group_vars/all.yml",
                                           "group_vars/web", "host_vars/h1.yml", "sub/c.ini"]),
                          _mutated(INVENTORIES) | hostile), min_size=1, max_size=4))
def test_inventory_folders(files: list[tuple[str, bytes]]) -> None:
    def write(folder: Path) -> Path:
        for name, data in files:
            (folder / "inv" / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / "inv" / name).write_bytes(data)
        return folder / "inv"
    _in_folder(write, lambda path: load_inventory([str(path)]))


@FUZZ
@given(st.lists(st.one_of(
    st.text(max_size=60),
    st.builds(lambda k, v: f"{k}={v}", st.text(max_size=10), st.text(max_size=20)),
    documents.map(lambda d: yaml.safe_dump(d, default_flow_style=True, width=10_000)),
    st.sampled_from(["@/nonexistent.yml", "@/dev/null", '{"a": ', "a='b", "{", "@"])),
    max_size=4))
def test_extra_vars(values: list[str]) -> None:
    only_input_errors(lambda: load.extra_vars(values))


@FUZZ
@given(st.one_of(st.sampled_from(CONFIGS).flatmap(lambda c: _mutated([c])), hostile),
       st.dictionaries(st.sampled_from(["URS_STORE", "PM2_CHECK_INTERVAL", "AUTO_RECOVERY",
                                        "URS_LOG_LEVEL", "PM2_MAX_RESTART_ATTEMPTS"]),
                       st.text(max_size=12).filter(lambda t: "\x00" not in t), max_size=3))
def test_configuration(data: bytes, env: dict[str, str]) -> None:
    def write(folder: Path) -> Path:
        (folder / "urs.yml").write_bytes(data)
        return folder
    _in_folder(write, lambda folder: config.load(folder, {**env, "HOME": str(folder)}))


def test_the_fuzzers_reach_both_outcomes(tmp_path: Path) -> None:
    """The harness itself: a valid playbook loads, a broken one is an InputError with a place."""
    _playbook(PLAYBOOKS[0])
    raised: list[InputError] = []
    with contextlib.suppress(InputError), bounded():
        try:
            load.load([str(DATA / "invalid" / "alias-bomb.yml")], MODULES)
        except InputError as exc:
            raised.append(exc)
            raise
    assert raised and raised[0].problems[0].file.endswith("alias-bomb.yml")


HOSTILE_FILES = {
    "nul.yml": b"steps:\n  - name: a\x00\n    run: x\n",
    "latin1.yml": b"steps:\n  - name: caf\xe9\n    run: x\n",
    "deep.yml": _nested(5000, "flow"),
    "bomb.yml": _nested(40, "anchors"),
    "merge-loop.yml": b"a: &a\n  <<: *a\nsteps: []\n",
}


def test_the_cli_never_shows_a_traceback_for_input(tmp_path: Path) -> None:
    from tests.helpers import urs

    for name, data in HOSTILE_FILES.items():
        (tmp_path / name).write_bytes(data)
        out = urs("check", name, cwd=tmp_path)
        assert out.returncode == 2, (name, out.stderr)
        assert "Traceback" not in out.stderr and out.stderr.startswith(f"error: {name}"), \
            (name, out.stderr)
