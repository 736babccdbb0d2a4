"""Fusion: decide which nodes become kernel outputs (are materialised).

Everything else is inlined into the kernels that read it: elementwise chains
fuse into their consumer, movement ops become index arithmetic, and a
reduction fuses the elementwise work before it and after it. A node is
materialised when it is asked for, or when inlining it would repeat work:
  - a reduction read by anything but one elementwise op of its own shape;
  - computed work that an expand would re-evaluate for every broadcast copy;
  - a reduction inside another reduction's loop (it runs as its own kernel);
  - a node so deep in one kernel that the kernel would grow without bound.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ops as O
from .node import Node
from .traverse import postorder

MAX_KERNEL_DEPTH = 48


@dataclass
class Schedule:
    kernels: list[Node]  # kernel outputs, in dependency order
    views: list[Node]  # requested movement-only results: zero-copy where strides allow
    materialised: set[int]  # ids of the kernel outputs


def toposort(targets: list[Node]) -> list[Node]:
    """Unrealised nodes under `targets`, sources first."""
    return [n for n in postorder(targets, lambda n: () if n.realized else n.srcs) if not n.realized]


def _movement_base(n: Node) -> Node:
    while n.op in O.MOVEMENT and not n.realized:
        n = n.srcs[0]
    return n


def _consumers(order: list[Node]) -> dict[int, list[Node]]:
    users: dict[int, list[Node]] = {}
    for n in order:
        for s in n.srcs:
            users.setdefault(id(s), []).append(n)
    return users


def _only_unit_dims_change(n: Node) -> bool:
    return n.op == "reshape" and [d for d in n.shape if d != 1] == [d for d in n.srcs[0].shape if d != 1]


def _must_materialise_reduce(n: Node, users: dict[int, list[Node]], wanted: set[int]) -> bool:
    """A reduction fuses into its one elementwise reader (seen through reshapes that only
    add or drop unit axes); any other reader would repeat the loop, so it gets a buffer."""
    readers = users.get(id(n), [])
    while len(readers) == 1 and _only_unit_dims_change(readers[0]):
        if id(readers[0]) in wanted:
            return False
        n = readers[0]
        readers = users.get(id(n), [])
    if not readers or any(r.op not in O.ELEMENTWISE or r.shape != n.shape for r in readers):
        return True
    return len(readers) > 1 and not _rejoin(readers, users)


def _rejoin(readers: list[Node], users: dict[int, list[Node]], steps: int = 8) -> bool:
    """Do the readers' elementwise chains meet in one node (like x <= 0 and where(...) in relu)?
    Then they all land in one kernel, which computes the reduction once."""
    paths = []
    for r in readers:
        path, n = {id(r)}, r
        for _ in range(steps):
            nxt = users.get(id(n), [])
            if len(nxt) != 1 or nxt[0].op not in O.ELEMENTWISE or nxt[0].shape != n.shape:
                break
            n = nxt[0]
            path.add(id(n))
        paths.append(path)
    return bool(set.intersection(*paths))


def _expanded_work(n: Node) -> Node | None:
    """The computed node an enlarging expand would re-evaluate per copy, if any."""
    if n.op != "expand" or n.numel <= n.srcs[0].numel:
        return None
    base = _movement_base(n.srcs[0])
    return None if base.realized or base.op in O.LEAVES else base


def schedule(targets: list[Node]) -> Schedule:
    order = toposort(targets)
    users = _consumers(order)
    wanted = {id(t) for t in targets}
    materialised: set[int] = set(wanted)
    for n in order:
        if n.op == "reduce" and _must_materialise_reduce(n, users, wanted):
            materialised.add(id(n))
        work = _expanded_work(n)
        if work is not None:
            materialised.add(id(work))
    _unnest_reductions(order, materialised)
    _cap_depth(order, materialised)
    views = [n for n in order if id(n) in wanted and n.op in O.MOVEMENT
             and (_movement_base(n).realized or id(_movement_base(n)) in materialised)]
    view_ids = {id(v) for v in views}
    kernels = [n for n in order if id(n) in materialised and id(n) not in view_ids]
    return Schedule(kernels, views, materialised - view_ids)


def _unnest_reductions(order: list[Node], materialised: set[int]) -> None:
    """A reduction inside another reduction's loop body gets its own kernel, so the
    inner loops run in parallel rather than inside one work-item's outer loop."""
    inside: set[int] = set()
    for n in reversed(order):
        if n.op == "reduce" and id(n) in inside:
            materialised.add(id(n))
        if n.op == "reduce" or (id(n) in inside and id(n) not in materialised):
            inside.update(id(s) for s in n.srcs)


def _cap_depth(order: list[Node], materialised: set[int]) -> None:
    depth: dict[int, int] = {}
    for n in order:
        d = 1 + max((depth.get(id(s), 0) for s in n.srcs), default=0)
        if d > MAX_KERNEL_DEPTH:
            materialised.add(id(n))
        depth[id(n)] = 0 if id(n) in materialised else d
