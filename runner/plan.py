"""Plan stage: the steps of a playbook (and the playbooks it includes) as one networkx DAG.

Rejects self-dependencies, cycles (printed as a path `a -> b -> a`) and template problems
before any host is touched. Ties between ready steps are broken by file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx

from runner.errors import InputError, Problem, did_you_mean
from runner.inventory import Host, Inventory
from runner.inventory.patterns import select
from runner.model import Playbook, Step
from runner.templating import problems_in, strings_in

Key = tuple[str, str]  # (playbook name, step name)


@dataclass(frozen=True)
class Node:
    key: Key
    book: Playbook
    step: Step
    order: int

    @property
    def label(self) -> str:
        return self.step.name if not self.key[0] else f"{self.key[0]}/{self.step.name}"


@dataclass(frozen=True)
class Plan:
    root: Playbook
    books: tuple[Playbook, ...]
    nodes: dict[Key, Node]
    graph: Any  # networkx.DiGraph, edges run from a need to its dependent

    def ordered(self) -> list[Node]:
        """Every step in dependency order, ties broken by file order."""
        keys = nx.lexicographical_topological_sort(self.graph, key=lambda k: self.nodes[k].order)
        return [self.nodes[k] for k in keys]

    def needs(self, key: Key) -> list[Node]:
        return sorted((self.nodes[k] for k in self.graph.predecessors(key)), key=_order)

    def labels(self) -> bool:
        """Whether step labels need the playbook name (more than one playbook)."""
        return len(self.books) > 1


def _order(node: Node) -> int:
    return node.order


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
    graph = nx.DiGraph()
    nodes: dict[Key, Node] = {}
    prefix = len(books) > 1
    for book in books:
        for step in book.steps:
            key = (book.name if prefix else "", step.name)
            nodes[key] = Node(key, book, step, len(nodes))
            graph.add_node(key)
    for node in nodes.values():
        for need in node.step.needs:
            graph.add_edge((node.key[0], need), node.key)
    known = None if known_vars is None else set(known_vars)
    problems = _graph_problems(graph, nodes) + _template_problems(books, known)
    if problems:
        raise InputError(problems)
    return Plan(root, books, nodes, graph)


def _graph_problems(graph: Any, nodes: dict[Key, Node]) -> list[Problem]:
    problems = []
    for key, _ in nx.selfloop_edges(graph):
        node = nodes[key]
        problems.append(Problem(node.book.path, node.step.line_of("needs"),
                                f"steps[{node.step.index}].needs",
                                "steps other than itself", f"'{node.step.name}' needs itself"))
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        path = [nodes[a].step.name for a, _ in cycle] + [nodes[cycle[0][0]].step.name]
        first = min((nodes[k] for k in component), key=_order)
        problems.append(Problem(first.book.path, first.step.line_of("needs"),
                                f"steps[{first.step.index}].needs",
                                "steps without a cycle", "a cycle: " + " -> ".join(path)))
    return problems


def _template_fields(step: Step) -> Iterator[tuple[str, str, bool]]:
    """(field, text, is_expression) for every templated string of a step."""
    if step.when is not None:
        yield "when", step.when, True
    for field, action in (("action", step.action), ("recover", step.recover)):
        if action is not None:
            label = field if field == "recover" else (step.kind if action.is_shell
                                                      else action.module)
            for text in strings_in(dict(action.args)):
                yield label, text, False
    for name, value in step.env.items():
        yield f"env.{name}", value, False
    if step.cwd:
        yield "cwd", step.cwd, False


def _template_problems(books: tuple[Playbook, ...], extra: set[str] | None) -> list[Problem]:
    problems = []
    for book in books:
        known = None if extra is None else {*book.vars, *book.defaults, *book.secrets, *extra}
        for step in book.steps:
            for field, text, is_expression in _template_fields(step):
                found_problems = problems_in(text, known, is_expression, guard=step.when or "")
                for expected, found, name in found_problems:
                    hint = did_you_mean(name, known) if name and known else ""
                    line = step.line_of(field.split(".")[0])
                    problems.append(Problem(book.path, line, f"steps[{step.index}].{field}",
                                            expected, found, hint))
    return problems


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
