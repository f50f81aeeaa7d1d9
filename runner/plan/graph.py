"""The dependency graph of a plan: stdlib graphlib orders it, networkx explains what is wrong.

A valid graph (every run's case) is ordered by `graphlib` at a fraction of networkx's import
cost (~0.2 ms to import and order against ~60 ms to import networkx; bench/README.md). A
graph with a self-need or a cycle is handed to networkx, which names every problem at once:
each self-need, and one cycle per strongly connected component printed as a path
`a -> b -> a`, found from the component's first step in file order, so the same playbook
gives the same message in every process.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import Problem
from runner.model import Playbook, Step

Key = tuple[str, str]  # (playbook name, step name)
Needs = dict[Key, tuple[Key, ...]]


@dataclass(frozen=True)
class Node:
    key: Key
    book: Playbook
    step: Step
    order: int  # position in file order, across the playbooks of the plan

    @property
    def label(self) -> str:
        return self.step.name if not self.key[0] else f"{self.key[0]}/{self.step.name}"


def needs_of(nodes: Mapping[Key, Node]) -> Needs:
    """What each step needs, in file order, without repeats."""
    return {key: tuple(sorted(dict.fromkeys((key[0], n) for n in node.step.needs),
                              key=lambda k: nodes[k].order))
            for key, node in nodes.items()}


def ordered(nodes: Mapping[Key, Node], needs: Needs) -> tuple[Key, ...] | None:
    """Every step after what it needs, ties broken by file order; None if there is a cycle."""
    from graphlib import CycleError, TopologicalSorter

    sorter = TopologicalSorter(needs)
    try:
        sorter.prepare()
    except CycleError:
        return None
    ready = [(nodes[k].order, k) for k in sorter.get_ready()]
    heapq.heapify(ready)
    order = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        sorter.done(key)
        for k in sorter.get_ready():
            heapq.heappush(ready, (nodes[k].order, k))
    return tuple(order)


def problems(nodes: Mapping[Key, Node]) -> list[Problem]:
    """Every self-need and every cycle of a graph that graphlib could not order."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    for node in nodes.values():
        for need in node.step.needs:
            graph.add_edge((node.key[0], need), node.key)
    return _self_needs(graph, nodes) + _cycles(graph, nodes)


def _self_needs(graph: Any, nodes: Mapping[Key, Node]) -> list[Problem]:
    import networkx as nx

    found = []
    for key, _ in nx.selfloop_edges(graph):
        node = nodes[key]
        found.append(Problem(node.book.path, node.step.line_of("needs"),
                             f"steps[{node.step.index}].needs",
                             "steps other than itself", f"'{node.step.name}' needs itself"))
    return found


def _cycles(graph: Any, nodes: Mapping[Key, Node]) -> list[Problem]:
    import networkx as nx

    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        first = min((nodes[k] for k in component), key=lambda n: n.order)
        # from the step written first: a component's own order depends on the hash seed
        cycle = nx.find_cycle(graph.subgraph(component), source=first.key)
        path = [nodes[a].step.name for a, _ in cycle] + [nodes[cycle[0][0]].step.name]
        found.append(Problem(first.book.path, first.step.line_of("needs"),
                             f"steps[{first.step.index}].needs",
                             "steps without a cycle", "a cycle: " + " -> ".join(path)))
    return found
