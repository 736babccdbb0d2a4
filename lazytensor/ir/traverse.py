"""Graph traversal shared by every pass: iterative, because graphs can be very deep."""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


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
