"""ir/traverse: the walks every pass shares."""
import random
import sys

from lazytensor.ir.traverse import postorder


class _Node:
    def __init__(self, *srcs):
        self.srcs = srcs


def _recursive_postorder(roots):
    order, seen = [], set()

    def visit(n):
        if id(n) in seen:
            return
        seen.add(id(n))
        for s in n.srcs:
            visit(s)
        order.append(n)
    for r in roots:
        visit(r)
    return order


def _random_dag(seed: int, size: int = 400) -> list[_Node]:
    rng = random.Random(seed)
    nodes = [_Node()]
    for _ in range(size):
        window = nodes[-30:]
        nodes.append(_Node(*(rng.choice(window) for _ in range(rng.randint(0, 3)))))
    return nodes


def test_postorder_is_the_recursive_walks_order():
    for seed in range(5):
        nodes = _random_dag(seed)
        roots = nodes[-3:] + nodes[:2]
        assert postorder(roots, lambda n: n.srcs) == _recursive_postorder(roots)


def test_postorder_visits_each_node_once_after_its_sources():
    nodes = _random_dag(7)
    order = postorder(nodes[-4:], lambda n: n.srcs)
    at = {id(n): i for i, n in enumerate(order)}
    assert len(at) == len(order)
    assert all(at[id(s)] < at[id(n)] for n in order for s in n.srcs)


def test_postorder_walks_a_chain_deeper_than_the_recursion_limit():
    node = _Node()
    for _ in range(sys.getrecursionlimit() * 5):
        node = _Node(node)
    order = postorder([node], lambda n: n.srcs)
    assert len(order) == sys.getrecursionlimit() * 5 + 1 and order[-1] is node and not order[0].srcs
