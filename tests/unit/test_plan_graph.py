"""graphlib orders a valid plan exactly as networkx's lexicographical topological sort did:
every step after its needs, ties between ready steps broken by file order."""

from __future__ import annotations

import random
from pathlib import Path

import networkx as nx

from runner.model import Action, Playbook, Step
from runner.plan import graph
from runner.plan.graph import Key, Node
from tests.helpers import ROOT, urs

BOOK = Playbook(name="book", path="book.yml")


def _nodes(needs: dict[int, list[int]], count: int) -> dict[Key, Node]:
    steps = [Step(f"s{i}", i + 1, i, "run", Action("shell", {"cmd": "true"}, i + 1),
                  needs=tuple(f"s{n}" for n in needs.get(i, []))) for i in range(count)]
    return {("", s.name): Node(("", s.name), BOOK, s, s.index) for s in steps}


def _random_dag(rng: random.Random) -> dict[Key, Node]:
    count = rng.randint(1, 14)
    ranks = list(range(count))
    rng.shuffle(ranks)  # a hidden dependency order unrelated to file order
    needs = {i: [j for j in range(count) if ranks[j] < ranks[i] and rng.random() < 0.25]
             for i in range(count)}
    return _nodes(needs, count)


def _networkx_order(nodes: dict[Key, Node]) -> tuple[Key, ...]:
    dag = nx.DiGraph()
    dag.add_nodes_from(nodes)
    dag.add_edges_from((("", n), k) for k, node in nodes.items() for n in node.step.needs)
    return tuple(nx.lexicographical_topological_sort(dag, key=lambda k: nodes[k].order))


def test_graphlib_orders_like_networkx_with_ties_broken_by_file_order() -> None:
    rng = random.Random(7)
    for _ in range(300):
        nodes = _random_dag(rng)
        assert graph.ordered(nodes, graph.needs_of(nodes)) == _networkx_order(nodes)


def test_ties_go_to_the_step_written_first() -> None:
    nodes = _nodes({0: [3], 1: [3], 2: []}, 4)
    order = graph.ordered(nodes, graph.needs_of(nodes))
    assert [k[1] for k in order or ()] == ["s2", "s3", "s0", "s1"]


def test_needs_are_listed_once_in_file_order() -> None:
    nodes = _nodes({0: [2, 1, 2]}, 3)
    assert graph.needs_of(nodes)[("", "s0")] == (("", "s1"), ("", "s2"))


def test_a_cycle_or_a_self_need_cannot_be_ordered_and_is_explained() -> None:
    for needs in ({0: [1], 1: [0]}, {0: [0]}):
        nodes = _nodes(needs, 2)
        assert graph.ordered(nodes, graph.needs_of(nodes)) is None
        assert len(graph.problems(nodes)) == 1


def test_every_process_names_the_same_cycles(tmp_path: Path) -> None:
    # a cycle among 3 of 8 steps: networkx iterates such a component in hash-seed order
    data = ROOT / "tests" / "data" / "invalid"
    expected = (data / "many-cycles.err").read_text()
    for seed in ("0", "1", "2", "3", "4", "5"):
        out = urs("check", "many-cycles.yml", cwd=data,
                  env={"PYTHONHASHSEED": seed, "XDG_CACHE_HOME": str(tmp_path / seed)})
        assert out.stderr == expected, seed
