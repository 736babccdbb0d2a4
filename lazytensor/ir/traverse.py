"""Graph traversal shared by every pass: iterative, because graphs can be very deep."""
from __future__ import annotations

from typing import Callable, Generator, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")  # a request for a value
V = TypeVar("V")


def postorder(roots: Iterable[T], children: Callable[[T], Iterable[T]]) -> list[T]:
    """Every node reachable from `roots`, each after all of its children (a topological order)."""
    order: list[T] = []
    seen: set[int] = set()
    stack: list[tuple[T, bool]] = [(r, False) for r in reversed(list(roots))]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(list(children(n))) if id(c) not in seen)
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
