"""Lower one kernel (an IR subgraph with one output) to the loop IR.

The output's index variables walk down the graph: movement ops rewrite the
index expressions (never copying), pads and gathers add validity conditions,
reductions open loops, and the materialised inputs become loads.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable

from ..ir import ops as O
from ..ir.dtype import DType, compute_dtype
from ..ir.kernel import KernelSpec
from ..ir.layout import contiguous_strides
from ..ir.node import Node
from . import uops as S
from .uops import U, u


@dataclass
class LoweredKernel:
    """Outputs of one shape, each stored from its own expression at the same index.
    Buffer slots: outputs first (0..n_out-1), then the inputs."""

    out_shape: tuple[int, ...]
    out_dtypes: list[DType]
    out_vars: tuple[U, ...]
    values: list[U] | None
    inputs: list[Node] = field(default_factory=list)  # buffer slot n_out+i holds inputs[i]
    input_dtypes: list[DType] = field(default_factory=list)
    args: list[tuple[object, DType]] = field(default_factory=list)  # scalar kernel arguments

    @property
    def n_out(self) -> int:
        return len(self.out_dtypes)

    def input_dtype(self, slot: int) -> DType:
        return self.input_dtypes[slot - self.n_out]

    @property
    def numel(self) -> int:
        return math.prod(self.out_shape)


class _Lowerer:
    def __init__(self, kernel: LoweredKernel, is_input: Callable[[Node], bool]):
        self.k = kernel
        self.is_input = is_input
        self.slots: dict[int, int] = {}
        self.arg_slots: dict[tuple, int] = {}
        self.memo: dict[tuple, U] = {}
        self.reduce_count = 0

    def lower(self, node: Node, idxs: tuple[U, ...], valid: U) -> U:
        key = (id(node), idxs, valid)
        if key not in self.memo:
            self.memo[key] = self._lower(node, idxs, valid)
        return self.memo[key]

    def _lower(self, node: Node, idxs, valid) -> U:
        if node.realized or self.is_input(node):
            return self._load(node, idxs, valid)
        if node.op in O.MOVEMENT:
            return MOVEMENT_LOWERING[node.op](self, node, idxs, valid)
        return LOWERING[node.op](self, node, idxs, valid)

    def _load(self, node: Node, idxs, valid) -> U:
        if id(node) not in self.slots:
            self.slots[id(node)] = self.k.n_out + len(self.k.inputs)
            self.k.inputs.append(node)
            self.k.input_dtypes.append(node.dtype)
        view = node.buffer
        strides = view.strides if view is not None else contiguous_strides(node.shape)
        offset = view.offset if view is not None else 0
        index = S.lit(offset)
        for i, st in zip(idxs, strides):
            if st:
                index = S.add(index, S.mul(i, st))
        return u("load", compute_dtype(node.dtype), (index, valid), self.slots[id(node)])

    def scalar_arg(self, value, dtype: DType) -> U:
        cd = compute_dtype(dtype)
        if cd.name == "bool":
            return S.lit(bool(value), cd)
        key = (repr(value), cd)
        if key not in self.arg_slots:
            self.arg_slots[key] = len(self.k.args)
            self.k.args.append((value, cd))
        return u("arg", cd, (), self.arg_slots[key])

    def new_reduce_var(self, size: int) -> U:
        self.reduce_count += 1
        return S.var(f"r{self.reduce_count}", size)


# ---- leaves, elementwise, reduce, gather ----------------------------------------------------

def _lower_const(L: _Lowerer, node: Node, idxs, valid) -> U:
    return L.scalar_arg(node.arg, node.dtype)


def _lower_iota(L: _Lowerer, node: Node, idxs, valid) -> U:
    return u("cast", compute_dtype(node.dtype), (idxs[node.arg],))


def _lower_elementwise(L: _Lowerer, node: Node, idxs, valid) -> U:
    srcs = tuple(L.lower(s, idxs, valid) for s in node.srcs)
    cd = compute_dtype(node.dtype)
    if node.op == "cast":
        return srcs[0] if srcs[0].dtype == cd else u("cast", cd, srcs)
    return u(node.op, cd, srcs)


def _lower_reduce(L: _Lowerer, node: Node, idxs, valid) -> U:
    redop, axes = node.arg
    (src,) = node.srcs
    if src.numel == 0:  # nothing to reduce: the identity (empty max/min are refused earlier)
        return S.lit({"sum": 0, "prod": 1}[redop], compute_dtype(node.dtype))
    src_idxs = list(idxs)
    rvars = []
    for a in axes:
        src_idxs[a] = L.new_reduce_var(src.shape[a])
        rvars.append(src_idxs[a])
    body = L.lower(src, tuple(src_idxs), valid)
    rvars = tuple(v for v in rvars if v.op == "var")
    if not rvars:
        return body
    return u("reduce", compute_dtype(node.dtype), (body,), (redop, rvars))


def _lower_gather(L: _Lowerer, node: Node, idxs, valid) -> U:
    src, index = node.srcs
    axis = node.arg
    at = L.lower(index, idxs, valid)
    at = at if at.dtype == S.INDEX else u("cast", S.INDEX, (at,))
    inside = S.both(S.in_range(at, src.shape[axis]), valid)
    src_idxs = list(idxs)
    src_idxs[axis] = at
    value = L.lower(src, tuple(src_idxs), inside)
    return u("where", value.dtype, (inside, value, L.scalar_arg(0, node.dtype)))


LOWERING = {
    **{op: _lower_elementwise for op in O.ELEMENTWISE},
    "const": _lower_const,
    "iota": _lower_iota,
    "reduce": _lower_reduce,
    "gather": _lower_gather,
}


# ---- movement ops rewrite the index expressions ------------------------------------------

def _lower_reshape(L, node: Node, idxs, valid) -> U:
    (src,) = node.srcs
    flat = S.lit(0)
    for i, st in zip(idxs, contiguous_strides(node.shape)):
        flat = S.add(flat, S.mul(i, st))
    src_idxs = []
    for n, st in zip(src.shape, contiguous_strides(src.shape)):
        src_idxs.append(S.lit(0) if n == 1 else S.mod(S.floordiv(flat, st), n))
    return L.lower(src, tuple(src_idxs), valid)


def _lower_permute(L, node: Node, idxs, valid) -> U:
    src_idxs = [None] * len(idxs)
    for i, p in enumerate(node.arg):
        src_idxs[p] = idxs[i]
    return L.lower(node.srcs[0], tuple(src_idxs), valid)


def _lower_expand(L, node: Node, idxs, valid) -> U:
    src = node.srcs[0]
    src_idxs = tuple(S.lit(0) if n == 1 else i for i, n in zip(idxs, src.shape))
    return L.lower(src, src_idxs, valid)


def _lower_shrink(L, node: Node, idxs, valid) -> U:
    src_idxs = tuple(S.add(i, start) for i, (start, _) in zip(idxs, node.arg))
    return L.lower(node.srcs[0], src_idxs, valid)


def _lower_flip(L, node: Node, idxs, valid) -> U:
    src_idxs = tuple(S.add(S.mul(i, -1), n - 1) if f else i
                     for i, f, n in zip(idxs, node.arg, node.shape))
    return L.lower(node.srcs[0], src_idxs, valid)


def _lower_pad(L, node: Node, idxs, valid) -> U:
    src = node.srcs[0]
    widths, fill = node.arg
    src_idxs, inside = [], S.TRUE
    for i, (before, _), n in zip(idxs, widths, src.shape):
        j = S.add(i, -before)
        src_idxs.append(j)
        inside = S.both(inside, S.in_range(j, n))
    value = L.lower(src, tuple(src_idxs), S.both(valid, inside))
    if inside is S.TRUE:
        return value
    return u("where", value.dtype, (inside, value, L.scalar_arg(fill, node.dtype)))


MOVEMENT_LOWERING = {
    "detach": lambda L, node, idxs, valid: L.lower(node.srcs[0], idxs, valid),
    "reshape": _lower_reshape,
    "permute": _lower_permute,
    "expand": _lower_expand,
    "shrink": _lower_shrink,
    "flip": _lower_flip,
    "pad": _lower_pad,
}


def lower_kernel(spec: KernelSpec) -> LoweredKernel:
    """Lower the subgraphs under the spec's outputs (one shape) down to the buffers it reads,
    numbering buffers and scalar arguments in the spec's order."""
    outs = spec.outputs
    shape = outs[0].shape
    out_vars = tuple(S.var(f"g{i}", n) for i, n in enumerate(shape))
    kernel = LoweredKernel(shape, [o.dtype for o in outs], out_vars, None)
    lowerer = _Lowerer(kernel, spec.reads)
    for n in spec.inputs:
        lowerer.slots[id(n)] = kernel.n_out + len(kernel.inputs)
        kernel.inputs.append(n)
        kernel.input_dtypes.append(n.dtype)
    for value, cd in spec.args:
        lowerer.arg_slots[(repr(value), cd)] = len(kernel.args)
        kernel.args.append((value, cd))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        kernel.values = [lowerer._load(o, out_vars, S.TRUE) if o.realized else lowerer._lower(o, out_vars, S.TRUE)
                         for o in outs]
    finally:
        sys.setrecursionlimit(limit)
    return kernel


def strided_view(node: Node) -> tuple[Node, tuple[int, ...], int] | None:
    """If `node` is movement ops over one realised node, expressible as strides
    and an offset (no masks, no divisions), return (base, strides, offset)."""
    base = node
    while base.op in O.MOVEMENT and not base.realized:
        base = base.srcs[0]
    if not base.realized or base is node:
        return None
    if node.numel == 0:
        return base, contiguous_strides(node.shape), 0
    kernel = LoweredKernel(node.shape, [node.dtype], (), None)
    lowerer = _Lowerer(kernel, lambda n: n is base)
    out_vars = tuple(S.var(f"g{i}", n) for i, n in enumerate(node.shape))
    value = lowerer.lower(node, out_vars, S.TRUE)
    if value.op != "load" or value.srcs[1] is not S.TRUE:
        return None
    terms, offset = S.linear(value.srcs[0])
    if any(atom.op != "var" for atom in terms):
        return None
    strides = tuple(terms.get(v, 0) if v.op == "var" else 0 for v in out_vars)
    return base, strides, offset
