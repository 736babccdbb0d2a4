"""Which axes of a reduction's loop each value computed inside that loop changes along.

A kernel computes a reduction by looping over its reduced axes; everything fused into the
loop body is computed again at each step unless it does not change along those axes. Fusion
relies on that for row reductions fused into their row's kernel (ir/schedule.py): softmax's
max is computed once per row, before the loop of attention's sum over keys, because the row
of scores does not change along the keys. Inside a sum over rows instead (a layer norm's
weight gradient sums, over all rows, what each row's mean and variance scale), a row's
statistics change at every step, and every work-item would compute them all again.

The analysis follows the indices down from the reduction's source: each dimension of each
node gets the set of reduced axes its index depends on. Size-1 dimensions depend on nothing
(their index is always 0); a reshape's dimensions depend on every axis of the group of
dimensions they come from (a merge or a split); ops whose indices are data (a gather) are
taken to depend on everything above them.
"""
from __future__ import annotations

from . import ops as O
from .node import Node

Deps = tuple[frozenset, ...]  # per dimension: the reduced axes its index depends on

_SAME_INDEX = frozenset({"cast", "detach", "shrink", "pad", "flip"})  # read at their own index, per dimension


def varying_row_reductions(outer: Node, stops: set[int], inner: set[int]) -> list[Node]:
    """The reductions among `inner` (ids) under `outer`'s loop, not crossing `stops` (ids of
    values the kernel reads from memory), whose own result index changes along `outer`'s
    reduced axes: computed inside that loop, they would be computed again at every step."""
    src = outer.srcs[0]
    if id(src) in stops or src.realized:  # the loop reads a stored value: nothing is computed in it
        return []
    axes = set(outer.arg[1])
    deps: dict[int, Deps] = {id(src): _sized(src, tuple(frozenset([d]) if d in axes else frozenset()
                                                        for d in range(len(src.shape))))}
    found = []
    for n in _below(src, stops):
        here = deps.pop(id(n), None)
        if here is None or not any(here):
            continue
        if n.op == "reduce":
            if id(n) in inner and any(here[d] for d in range(len(n.shape)) if d not in n.arg[1]):
                found.append(n)
                continue  # stored: what is under it is computed by its own kernel
        for s, src_deps in zip(n.srcs, _source_deps(n, here)):
            if id(s) in stops or s.realized:
                continue
            known = deps.get(id(s))
            deps[id(s)] = src_deps if known is None else tuple(a | b for a, b in zip(known, src_deps))
    return found


def _below(root: Node, stops: set[int]) -> list[Node]:
    """The nodes computed under `root` in its kernel, users before their sources."""
    order, seen, stack = [], {id(root)}, [(root, iter(root.srcs))]
    while stack:  # post-order, reversed below: a node comes after all its users
        n, pending = stack[-1]
        for s in pending:
            if id(s) not in seen and id(s) not in stops and not s.realized:
                seen.add(id(s))
                stack.append((s, iter(s.srcs)))
                break
        else:
            stack.pop()
            order.append(n)
    return order[::-1]


def _source_deps(n: Node, here: Deps) -> list[Deps]:
    """Each source's per-dimension dependencies, from those of `n`."""
    if n.op in O.ELEMENTWISE or n.op in _SAME_INDEX:
        return [_sized(s, here) for s in n.srcs]
    rule = _MOVES.get(n.op)
    if rule is not None:
        (src,) = n.srcs
        return [_sized(src, rule(n, here, src))]
    everything = frozenset().union(*here)  # data-dependent indices: anything above
    return [_sized(s, (everything,) * len(s.shape)) for s in n.srcs]


def _permuted(n: Node, here: Deps, src: Node) -> Deps:
    out = [frozenset()] * len(n.shape)
    for i, p in enumerate(n.arg):
        out[p] = here[i]
    return tuple(out)


def _reduced(n: Node, here: Deps, src: Node) -> Deps:
    """A nested reduction's own axes are its own loop, not the outer one's."""
    return tuple(frozenset() if d in n.arg[1] else dep for d, dep in enumerate(here))


# single-source ops that move indices: (node, its deps, its source) -> the source's deps
_MOVES = {
    "expand": lambda n, here, src: here,  # the broadcast dimensions are size 1 in the source
    "permute": _permuted,
    "reduce": _reduced,
    "reshape": lambda n, here, src: _reshaped(here, n.shape, src.shape),
}


def _reshaped(here: Deps, shape: tuple[int, ...], src_shape: tuple[int, ...]) -> Deps:
    """Dependencies through a reshape: each group of dimensions whose sizes multiply to the
    same on both sides (a merge or a split) shares the union of its dependencies. Size-1
    dimensions belong to no group: their index is always 0."""
    outs = [(size, dep) for size, dep in zip(shape, here) if size != 1]
    srcs = [j for j, size in enumerate(src_shape) if size != 1]
    result = [frozenset()] * len(src_shape)
    o = j = 0
    while o < len(outs) and j < len(srcs):
        (a, group), b, members = outs[o], src_shape[srcs[j]], [srcs[j]]
        o, j = o + 1, j + 1
        while a != b:
            if a < b and o < len(outs):
                a, group, o = a * outs[o][0], group | outs[o][1], o + 1
            elif b < a and j < len(srcs):
                b, members, j = b * src_shape[srcs[j]], members + [srcs[j]], j + 1
            else:
                break
        if a != b:
            break
        for m in members:
            result[m] = group
    if o < len(outs) or j < len(srcs) or (outs and a != b):  # sizes that do not line up (empty tensors)
        return (frozenset().union(*here),) * len(src_shape)
    return tuple(result)


def _sized(n: Node, deps: Deps) -> Deps:
    """`deps` for `n`, with nothing for its size-1 dimensions."""
    return tuple(frozenset() if size == 1 else dep for size, dep in zip(n.shape, deps))
