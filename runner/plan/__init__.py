"""Plan stage: the steps of a playbook (and the playbooks it includes) as one networkx DAG.

Rejects self-dependencies, cycles (printed as a path `a -> b -> a`) and template problems
before any host is touched. Ties between ready steps are broken by file order.

A plan that passed is remembered (runner.plan.cache) by a digest of everything it was built
from, so the next run of unchanged playbooks (cron's case) neither imports networkx nor
parses templates again: it reuses the validated order and needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import InputError, Problem, did_you_mean
from runner.inventory import Host, Inventory
from runner.inventory.patterns import select
from runner.model import Playbook, Step
from runner.plan import cache as plancache
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
    order: tuple[Key, ...]  # dependency order, ties broken by file order
    preds: Mapping[Key, tuple[Key, ...]]  # what each step needs, in file order

    def ordered(self) -> list[Node]:
        """Every step in dependency order, ties broken by file order."""
        return [self.nodes[k] for k in self.order]

    def needs(self, key: Key) -> list[Node]:
        return [self.nodes[k] for k in self.preds[key]]


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
    prefix = len(books) > 1
    nodes: dict[Key, Node] = {}
    for book in books:
        for step in book.steps:
            key = (book.name if prefix else "", step.name)
            nodes[key] = Node(key, book, step, len(nodes))
    known = None if known_vars is None else set(known_vars)
    digest = plancache.digest(repr(books), repr(sorted(known) if known is not None else None))
    cached = plancache.read(digest, set(nodes))
    if cached is not None and _consistent(nodes, *cached):
        return Plan(root, books, nodes, *cached)
    order, preds = _validated(books, nodes, known)
    plancache.write(digest, order, preds)
    return Plan(root, books, nodes, order, preds)


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
    """The networkx DAG checked, as (order, needs); InputError with every problem."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    for node in nodes.values():
        for need in node.step.needs:
            graph.add_edge((node.key[0], need), node.key)
    problems = _graph_problems(graph, nodes) + _template_problems(books, known)
    if problems:
        raise InputError(problems)
    order = tuple(nx.lexicographical_topological_sort(graph, key=lambda k: nodes[k].order))
    preds = {k: tuple(sorted(graph.predecessors(k), key=lambda p: nodes[p].order))
             for k in nodes}
    return order, preds


def _graph_problems(graph: Any, nodes: dict[Key, Node]) -> list[Problem]:
    import networkx as nx

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
