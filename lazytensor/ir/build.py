"""Node builders with each op's shape rule. The tensor layer validates user input
first (with user-facing messages); these assert the IR's own invariants."""
from __future__ import annotations

import math

from . import ops as O
from .dtype import DType, bool_
from .node import Node, const, make

Shape = tuple[int, ...]


def elementwise(op: str, *srcs: Node, dtype: DType | None = None) -> Node:
    shape = srcs[0].shape
    for s in srcs:
        assert s.shape == shape, (op, [s.shape for s in srcs])
    if dtype is None:
        dtype = bool_ if op in O.COMPARISONS else srcs[-1].dtype
    return make(op, dtype, shape, tuple(srcs), None, srcs[0].device)


def binary(op: str, a: Node, b: Node) -> Node:
    """elementwise(op, a, b), without its variable arguments and loop: the commonest node,
    built for most ops recorded."""
    assert a.shape == b.shape, (op, [a.shape, b.shape])
    return make(op, bool_ if op in O.COMPARISONS else b.dtype, a.shape, (a, b), None, a.device)


def cast(x: Node, dtype: DType) -> Node:
    return make("cast", dtype, x.shape, (x,), None, x.device)


def full_like_node(x: Node, value, dtype: DType | None = None) -> Node:
    return const(value, dtype or x.dtype, x.shape, x.device)


def reduce(x: Node, op: str, axes: tuple[int, ...]) -> Node:
    """Reduce over `axes`, keeping them as size 1."""
    assert op in O.REDUCE_OPS
    axes = tuple(sorted(set(axes)))
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    if not axes or all(x.shape[a] == 1 for a in axes):
        return x
    if x.numel >= TWO_STAGE_MIN and all(n == 1 for n in shape):
        return _two_stage_reduce(x, op, shape)
    return make("reduce", x.dtype, shape, (x,), (op, axes), x.device)


TWO_STAGE_MIN = 1 << 15


def _two_stage_reduce(x: Node, op: str, shape: Shape) -> Node:
    """A full reduction as partial results over P contiguous chunks, then one over those:
    both stages run in parallel, and P ~ sqrt(n) partial sums keep float32 sums accurate.
    The n mod P values past the last whole chunk are reduced on their own and combined."""
    n = x.numel
    partials = min(4096, max(64, 1 << math.ceil(math.log2(math.sqrt(n)))))
    chunk = n // partials
    whole = partials * chunk
    flat = reshape(x, (n,))
    main = reshape(shrink(flat, ((0, whole),)), (partials, chunk))
    first = make("reduce", x.dtype, (partials, 1), (main,), (op, (1,)), x.device)
    total = make("reduce", x.dtype, (1, 1), (first,), (op, (0, 1)), x.device)
    if whole < n:
        rest = make("reduce", x.dtype, (1,), (shrink(flat, ((whole, n),)),), (op, (0,)), x.device)
        total = elementwise(O.REDUCE_COMBINE[op], total, reshape(rest, (1, 1)))
    return reshape(total, shape)


def _movement(x: Node, op: str, arg) -> Node:
    return make(op, x.dtype, movement_shape(x.shape, op, arg), (x,), arg, x.device)


def reshape(x: Node, shape: Shape) -> Node:
    assert math.prod(shape) == x.numel, (x.shape, shape)
    return _movement(x, "reshape", tuple(shape))


def permute(x: Node, perm: tuple[int, ...]) -> Node:
    assert sorted(perm) == list(range(len(x.shape)))
    return _movement(x, "permute", tuple(perm))


def expand(x: Node, shape: Shape) -> Node:
    assert len(shape) == len(x.shape) and all(a == b or a == 1 for a, b in zip(x.shape, shape)), (x.shape, shape)
    return _movement(x, "expand", tuple(shape))


def broadcast_to(x: Node, shape: Shape) -> Node:
    """Add leading axes, then expand (NumPy broadcasting)."""
    if x.shape == tuple(shape):
        return x
    if len(shape) > len(x.shape):
        x = reshape(x, (1,) * (len(shape) - len(x.shape)) + x.shape)
    return expand(x, shape)


def shrink(x: Node, bounds: tuple[tuple[int, int], ...]) -> Node:
    assert all(0 <= s <= e <= n for (s, e), n in zip(bounds, x.shape)), (x.shape, bounds)
    return _movement(x, "shrink", tuple(bounds))


def pad(x: Node, widths: tuple[tuple[int, int], ...], fill=0) -> Node:
    assert all(b >= 0 and a >= 0 for b, a in widths)
    fill = bool(fill) if x.dtype == bool_ else (float(fill) if x.dtype.is_floating_point else int(fill))
    return _movement(x, "pad", (tuple(widths), fill))


def flip(x: Node, axes: tuple[int, ...]) -> Node:
    return _movement(x, "flip", tuple(i in axes for i in range(len(x.shape))))


def iota(shape: Shape, axis: int, dtype: DType, device: str) -> Node:
    """The index along `axis` at every position of `shape`."""
    return make("iota", dtype, tuple(shape), (), axis, device)


def gather(src: Node, index: Node, axis: int) -> Node:
    """out[i] = src[i with axis replaced by index[i]]; src and index agree on other axes."""
    assert len(src.shape) == len(index.shape)
    assert all(a == b for i, (a, b) in enumerate(zip(src.shape, index.shape)) if i != axis)
    return make("gather", src.dtype, index.shape, (src, index), axis, src.device)


def select_by_key(keys: Node, values: Node, size: int, combine: str = "sum", fill=0) -> Node:
    """out[..., p] = `combine` over j of values[..., j] where keys[..., j] == p, for p < size: a
    scatter written as a comparison grid [..., p, j] and one reduction over j, which fuses into
    a single kernel (scatter_add, sort's placement, the gradient of gather). `fill` stands in for
    every value whose key is not p, so it must leave the combination as it is: the identity of
    `combine`, or for max and min any value, which is then the result where no key is p."""
    lead, m = keys.shape[:-1], keys.shape[-1]
    grid = lead + (size, m)
    spread_keys = expand(reshape(keys, lead + (1, m)), grid)
    spread_values = expand(reshape(values, lead + (1, m)), grid)
    hit = elementwise("eq", spread_keys, iota(grid, len(grid) - 2, keys.dtype, keys.device))
    picked = elementwise("where", hit, spread_values, const(fill, values.dtype, grid, keys.device))
    return reshape(reduce(picked, combine, (len(grid) - 1,)), lead + (size,))


def detach(x: Node) -> Node:
    """The same value, cut from autograd history."""
    return make("detach", x.dtype, x.shape, (x,), None, x.device)


MOVEMENT_BUILDERS = {
    "detach": lambda x, arg: detach(x),
    "reshape": reshape, "permute": permute, "expand": expand,
    "shrink": shrink, "pad": lambda x, arg: pad(x, arg[0], arg[1]),
    "flip": lambda x, arg: _movement(x, "flip", arg),
}


def movement(x: Node, op: str, arg) -> Node:
    """Apply a recorded movement op (op, arg), as view chains store them."""
    return MOVEMENT_BUILDERS[op](x, arg)


def movement_shape(shape: Shape, op: str, arg) -> Shape:
    """The shape a recorded movement op produces from `shape`."""
    if op in ("reshape", "expand"):
        return tuple(arg)
    if op == "permute":
        return tuple(shape[p] for p in arg)
    if op == "shrink":
        return tuple(e - s for s, e in arg)
    if op == "pad":
        return tuple(n + b + a for n, (b, a) in zip(shape, arg[0]))
    return shape
