"""Load stage: find playbooks by path or name, read them safely, check them against the schema.

Load never connects to a host. Every problem in every file is reported at once.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from runner.errors import InputError, Problem, did_you_mean
from runner.fields import Fields
from runner.inventory import Inventory
from runner.load import extravars, yamlfile
from runner.load.schema import Parsed, build_playbook
from runner.model import Playbook

SUFFIXES = (".yml", ".yaml")
T = TypeVar("T")


def builtin_dir() -> Path:
    """Where the built-in playbooks are: the installed `runner.builtin` package."""
    spec = importlib.util.find_spec("runner.builtin")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "playbooks"


def search_dirs(project: Path | None = None) -> list[Path]:
    """The project's `playbooks/` (and URS_PLAYBOOKS folders), then the built-in ones."""
    extra = [Path(p) for p in os.environ.get("URS_PLAYBOOKS", "").split(os.pathsep) if p]
    return [*extra, (project or Path.cwd()) / "playbooks", builtin_dir()]


def available(dirs: Sequence[Path]) -> dict[str, Path]:
    """Every playbook by name; an earlier folder hides a later one of the same name."""
    found: dict[str, Path] = {}
    for folder in dirs:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix in SUFFIXES and path.stem not in found:
                    found[path.stem] = path
    return found


def find(ref: str, dirs: Sequence[Path], near: Path | None = None) -> Path | None:
    """A playbook file for a path or a name, or None."""
    as_path = Path(ref)
    if as_path.suffix in SUFFIXES or os.sep in ref:
        for candidate in (as_path, (near / as_path) if near else None):
            if candidate is not None and candidate.is_file():
                return candidate
        return None
    folders = [near, *dirs] if near else list(dirs)
    for folder in folders:
        for suffix in SUFFIXES:
            if (folder / f"{ref}{suffix}").is_file():
                return folder / f"{ref}{suffix}"
    return None


@dataclass
class Loader:
    """Reads playbooks and the ones they include, remembering every problem."""

    modules: Mapping[str, Fields]
    dirs: Sequence[Path]
    problems: list[Problem] = field(default_factory=list)
    parsed: list[Parsed] = field(default_factory=list)
    _stack: list[Path] = field(default_factory=list)

    def load_file(self, path: Path) -> Playbook | None:
        resolved = path.resolve()
        if resolved in self._stack:
            chain = " -> ".join(p.stem for p in [*self._stack, resolved])
            self.problems.append(Problem(str(path), None, "playbooks",
                                         "playbooks that do not include themselves", chain))
            return None
        self._stack.append(resolved)
        try:
            data = yamlfile.read(path)
            book, problems, parsed = build_playbook(data, str(path), path.stem, self.modules,
                                                    self.include)
            self.problems.extend(problems)
            self.parsed.append(parsed)
            return book
        except InputError as exc:
            self.problems.extend(exc.problems)
            return None
        finally:
            self._stack.pop()

    def include(self, ref: str, file: str, line: int) -> Playbook | None:
        path = find(ref, self.dirs, near=Path(file).parent)
        if path is None:
            self.problems.append(Problem(file, line, "playbooks", "a playbook name or path",
                                         f"'{ref}'", did_you_mean(ref, available(self.dirs))))
            return None
        return self.load_file(path)


def _not_found(ref: str, dirs: Sequence[Path]) -> Problem:
    """A path that does not exist is "no such file"; a name, "no playbook named ..."."""
    if "/" in ref or ref.endswith((".yml", ".yaml")):
        return Problem(ref, None, "", "", "no such file",
                       "" if Path(ref).is_absolute() else f"looked in {Path.cwd()}")
    return Problem(ref, None, "", "", "no playbook of that name",
                   did_you_mean(ref, available(dirs)) or "`urs list` shows them")


def load(refs: Sequence[str], modules: Mapping[str, Fields],
         dirs: Sequence[Path] | None = None, known: Iterable[str] | None = None) -> Playbook:
    """The playbook named by refs (several refs run as one graph); InputError on any problem.

    When there are problems, the template problems of every step that parsed are reported
    with them (known: the variables defined outside the playbooks; None: names unchecked);
    otherwise the plan stage checks templates (runner.plan, which caches the result)."""
    loader = Loader(modules, dirs if dirs is not None else search_dirs())
    books = []
    for ref in refs:
        path = find(ref, loader.dirs)
        if path is None:
            loader.problems.append(_not_found(ref, loader.dirs))
            continue
        book = loader.load_file(path)
        if book is not None:
            books.append(book)
    if loader.problems:
        raise InputError(_with_templates(loader, known))
    if len(books) == 1:
        return books[0]
    return Playbook(name="+".join(b.name for b in books), path="", includes=tuple(books))


def _with_templates(loader: Loader, known: Iterable[str] | None) -> list[Problem]:
    from runner.templating.checks import rejected_step_problems, template_problems

    outside = None if known is None else set(known)
    problems = dict.fromkeys(loader.problems)
    for parsed in {p.file: p for p in loader.parsed}.values():
        variables = None if outside is None else parsed.variables | outside
        found = template_problems(parsed.file, parsed.steps, variables, parsed.step_names)
        for index, node in parsed.rejected:
            found += rejected_step_problems(parsed.file, index, node, variables,
                                            parsed.step_names)
        problems.update(dict.fromkeys(found))
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def extra_vars(values: Sequence[str]) -> dict[str, object]:
    """`-e key=value [key=value ...]`, `-e @file.yml` and `-e '{"json": 1}'`, later ones win."""
    merged: dict[str, object] = {}
    for value in values:
        merged.update(_one_extra(value))
    return merged


def _one_extra(value: str) -> dict[str, object]:
    if value.startswith("@"):
        data = yamlfile.read(Path(value[1:]))
        if not isinstance(data, dict):
            raise InputError.one(value[1:], None, "-e", "a mapping of variables", "another value")
        return dict(data)
    if value.lstrip().startswith("{"):
        data = yamlfile.parse(value, "-e")
        if isinstance(data, dict):
            return dict(data)
    pairs: dict[str, object] = {}
    for item in _split_words(value):
        key, sep, val = item.partition("=")
        if not sep or not key.isidentifier():
            raise InputError.one("-e", None, "", "key=value, @file.yml or a JSON object",
                                 repr(item))
        pairs[key] = val
    return pairs


def _split_words(value: str) -> list[str]:
    import shlex

    try:
        return shlex.split(value)
    except ValueError:
        return [value]


def load_all(playbooks: Sequence[str], inventories: Sequence[str], extra: Sequence[str],
             modules: Mapping[str, Fields]) -> tuple[Playbook, Inventory, dict[str, object]]:
    """Playbooks, inventory and -e variables; InputError with the problems of all three."""
    from runner.inventory.sources import load_inventory

    problems: list[Problem] = []

    def attempt(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except InputError as exc:
            problems.extend(exc.problems)
            return None

    variables = attempt(lambda: extra_vars(extra))
    inventory = attempt(lambda: load_inventory(inventories))
    known = None if variables is None or inventory is None else \
        {*variables, *(k for h in inventory.hosts.values() for k in h.vars)}
    book = attempt(lambda: load(playbooks, modules, known=known))
    if book is not None and variables is not None:
        variables, wrong = extravars.typed(book, variables)
        problems.extend(wrong)
    if problems or book is None or inventory is None or variables is None:
        raise InputError(problems)
    return book, inventory, variables
