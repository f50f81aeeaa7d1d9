"""Plan stage: the steps of a playbook (and the playbooks it includes) as one DAG.

Rejects self-dependencies, cycles (printed as a path `a -> b -> a`) and template problems
before any host is touched. Ties between ready steps are broken by file order. graphlib
orders a valid graph; networkx is imported only to explain an invalid one (runner.plan.graph).

A plan that passed is remembered (runner.plan.cache) under a key of everything it was built
from, so the next run of unchanged playbooks (cron's case) parses no template again (nor
imports jinja2 when no template is rendered): it reuses the validated order and needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from runner.errors import InputError, Problem, did_you_mean
from runner.inventory import Host, Inventory
from runner.inventory.patterns import select
from runner.model import Playbook
from runner.plan import cache as plancache
from runner.plan import graph
from runner.plan.graph import Key, Node
from runner.templating.checks import template_problems, variable_problems

__all__ = ["Key", "Node", "Plan", "build", "check_tags", "targets", "unique_books"]


@dataclass(frozen=True)
class Plan:
    root: Playbook
    books: tuple[Playbook, ...]
    nodes: dict[Key, Node]
    order: tuple[Key, ...]  # dependency order, ties broken by file order
    preds: Mapping[Key, tuple[Key, ...]]  # what each step needs, in file order

    def ordered(self) -> list[Node]:
        """Every step in dependency order, ties broken by file order."""
        return [self.nodes[k] for k in self.order]

    def needs(self, key: Key) -> list[Node]:
        return [self.nodes[k] for k in self.preds[key]]


def unique_books(root: Playbook) -> tuple[Playbook, ...]:
    seen: dict[str, Playbook] = {}
    for book in root.flatten():
        seen.setdefault(book.path or book.name, book)
    return tuple(seen.values())


def build(root: Playbook, known_vars: Iterable[str] | None = ()) -> Plan:
    """The plan for a loaded playbook; InputError listing every graph and template problem.

    known_vars are the variables defined outside the playbook (inventory, -e); None skips
    the check for undefined variables (template syntax is still checked).
    """
    books = unique_books(root)
    nodes = _nodes(books)
    known = None if known_vars is None else set(known_vars)
    digest = plancache.key(books, known)
    cached = plancache.read(digest, set(nodes))
    if cached is not None and _consistent(nodes, *cached):
        return Plan(root, books, nodes, *cached)
    order, preds = _validated(books, nodes, known)
    plancache.write(digest, order, preds)
    return Plan(root, books, nodes, order, preds)


def _nodes(books: tuple[Playbook, ...]) -> dict[Key, Node]:
    """Every step, keyed by (playbook name, step name); the name is "" for a lone playbook."""
    prefix = len(books) > 1
    nodes: dict[Key, Node] = {}
    for book in books:
        for step in book.steps:
            key = (book.name if prefix else "", step.name)
            nodes[key] = Node(key, book, step, len(nodes))
    return nodes


def _consistent(nodes: dict[Key, Node], order: tuple[Key, ...],
                preds: Mapping[Key, tuple[Key, ...]]) -> bool:
    """A remembered plan matches these steps' needs and lists every need before its step."""
    position = {key: index for index, key in enumerate(order)}
    for key, node in nodes.items():
        needs = preds.get(key, ())
        if {n[1] for n in needs} != set(node.step.needs) or any(n[0] != key[0] for n in needs):
            return False
        if any(position[n] >= position[key] for n in needs):
            return False
    return len(position) == len(nodes)


def _validated(books: tuple[Playbook, ...], nodes: dict[Key, Node],
               known: set[str] | None) -> tuple[tuple[Key, ...], dict[Key, tuple[Key, ...]]]:
    """(order, needs) of a plan that passed every check; InputError with every problem."""
    needs = graph.needs_of(nodes)
    order = graph.ordered(nodes, needs)
    problems = (graph.problems(nodes) if order is None else []) + \
        _template_problems(books, known)
    if problems or order is None:
        raise InputError(problems)
    return order, needs


def _template_problems(books: tuple[Playbook, ...], extra: set[str] | None) -> list[Problem]:
    problems = []
    for book in books:
        known = None if extra is None else {*book.vars, *book.defaults, *book.secrets, *extra}
        names = [s.name for s in book.steps]
        problems += template_problems(book.path, book.steps, known, names)
        sources = {"defaults": book.defaults, "vars": book.vars, "secrets": book.secrets}
        problems += variable_problems(book.path, sources, known, names)
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def targets(plan: Plan, inventory: Inventory,
            limit: str | None) -> tuple[dict[str, tuple[Host, ...]], list[str]]:
    """The hosts of each playbook (its `hosts:` pattern within --limit), and notices.

    An included playbook whose pattern matches nothing is skipped with a notice, as Ansible
    skips such a play; a single playbook matching nothing, or a limit leaving no host at
    all, is an error.
    """
    limited = set(select(inventory, limit, "--limit")) if limit else None
    chosen: dict[str, tuple[Host, ...]] = {}
    notices: list[str] = []
    for book in plan.books:
        try:
            names = select(inventory, book.hosts, f"{book.path}: hosts")
        except InputError:
            if len(plan.books) == 1:
                raise
            notices.append(f"note: {book.name}: hosts '{book.hosts}' matches no host; skipped")
            names = []
        chosen[book.name] = tuple(inventory.hosts[n] for n in names
                                  if limited is None or n in limited)
    if not any(chosen.values()):
        raise InputError.one("--limit", None, "", "hosts that the playbooks' patterns include",
                             f"'{limit}', which leaves none")
    return chosen, notices


def check_tags(plan: Plan, tags: Iterable[str], skip_tags: Iterable[str]) -> None:
    """InputError for each --tags or --skip-tags name no step has, with a did-you-mean: a
    misspelt tag would silently run nothing, or skip nothing."""
    known = {tag for node in plan.nodes.values() for tag in node.step.tags}
    listed = ", ".join(sorted(known)) or "none"
    problems = [Problem(option, None, "", f"a tag some step has ({listed})", f"'{tag}'",
                        did_you_mean(tag, known))
                for option, given in (("--tags", tags), ("--skip-tags", skip_tags))
                for tag in sorted(given) if tag not in known]
    if problems:
        raise InputError(problems)
