"""Graph traversal shared by every pass: iterative, because graphs can be very deep."""
from __future__ import annotations

from typing import Callable, Generator, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")  # a request for a value
V = TypeVar("V")


def postorder(roots: Iterable[T], children: Callable[[T], Iterable[T]]) -> list[T]:
    """Every node reachable from `roots`, each after all of its children (a topological order):
    the order of a recursive depth-first walk, children in order, each node at its first visit.
    The stack holds each open node's iterator over its children, so a node is pushed once
    (every pass walks graphs with this: it is the hottest loop of lowering).

    Nodes are told apart by identity, in a set of the nodes themselves: every graph walked
    (IR nodes, kernel values, autograd records) keeps object's own hash and equality, which
    cost no int object per node as id() does (a third of the walk)."""
    order: list[T] = []
    seen: set[T] = set()
    mark = seen.add
    for root in roots:
        if root in seen:
            continue
        assert type(root).__hash__ is object.__hash__, f"postorder: {type(root).__name__} hashes by value"
        mark(root)
        stack = [(root, iter(children(root)))]
        while stack:
            node, pending = stack[-1]
            for child in pending:
                if child not in seen:
                    mark(child)
                    stack.append((child, iter(children(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def evaluate(root: Generator[R, V, V], step: Callable[[R], Generator[R, V, V]]) -> V:
    """What `root` returns, where every request a generator yields is sent back the value that
    the generator `step(request)` returns: a recursive computation, written as generators,
    run on an explicit stack (the order of work is the recursion's, the depth is unlimited)."""
    stack = [root]
    value = None
    while True:
        try:
            request = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value
            value = done.value
            continue
        stack.append(step(request))
        value = None
