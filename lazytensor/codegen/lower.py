"""Lower one kernel (an IR subgraph with one output) to the loop IR.

The output's index variables walk down the graph: movement ops rewrite the
index expressions (never copying), pads and gathers add validity conditions,
reductions open loops, and the materialised inputs become loads.

Each op's rule is a generator: it yields (source, index expressions, validity) for each
value it needs and is sent that value back, then returns its own. ir/traverse.evaluate
runs the rules from an explicit stack, so a graph deeper than Python's recursion limit lowers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Generator

from ..ir import ops as O
from ..ir.dtype import DType, compute_dtype
from ..ir.kernel import KernelSpec
from ..ir.layout import contiguous_strides, inverse_permutation
from ..ir.bounded import remember
from ..ir.node import Node, _arg_key
from ..ir.traverse import evaluate
from . import uops as S
from .uops import U, u

Request = tuple[Node, tuple[U, ...], U]  # a node's value wanted at these indices, where valid
Rule = Generator[Request, U, U]


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
        """The value of `node` at `idxs`, read only where `valid`."""
        return evaluate(self._rule(node, idxs, valid), self._memoised)

    def _memoised(self, request: Request) -> Rule:
        # a value read at the same indices by several readers is lowered (and named) once
        node, idxs, valid = request
        key = (id(node), idxs, valid)
        if key not in self.memo:
            self.memo[key] = yield from self._rule(node, idxs, valid)
        return self.memo[key]

    def _rule(self, node: Node, idxs, valid) -> Rule:
        if node.realized or self.is_input(node):
            return self._load(node, idxs, valid)
        if node.op in LEAF_LOWERING:
            return LEAF_LOWERING[node.op](self, node, idxs, valid)
        rules = MOVEMENT_LOWERING if node.op in O.MOVEMENT else LOWERING
        return (yield from rules[node.op](self, node, idxs, valid))

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


def _lower_elementwise(L: _Lowerer, node: Node, idxs, valid) -> Rule:
    srcs = []
    for s in node.srcs:
        srcs.append((yield s, idxs, valid))
    cd = compute_dtype(node.dtype)
    if node.op == "cast":
        return srcs[0] if srcs[0].dtype == cd else u("cast", cd, tuple(srcs))
    return u(node.op, cd, tuple(srcs))


def _lower_reduce(L: _Lowerer, node: Node, idxs, valid) -> Rule:
    redop, axes = node.arg
    (src,) = node.srcs
    cd = compute_dtype(node.dtype)
    if src.numel == 0:  # nothing to reduce (the tensor layer refuses an empty max or min)
        return S.lit(O.reduce_identity(redop, cd), cd)
    src_idxs = list(idxs)
    rvars = []
    for a in axes:
        src_idxs[a] = L.new_reduce_var(src.shape[a])
        rvars.append(src_idxs[a])
    body = yield src, tuple(src_idxs), valid
    rvars = tuple(v for v in rvars if v.op == "var")
    if not rvars:
        return body
    return u("reduce", cd, (body,), (redop, rvars))


def _lower_gather(L: _Lowerer, node: Node, idxs, valid) -> Rule:
    src, index = node.srcs
    axis = node.arg
    at = yield index, idxs, valid
    at = at if at.dtype == S.INDEX else u("cast", S.INDEX, (at,))
    inside = S.both(S.in_range(at, src.shape[axis]), valid)
    src_idxs = list(idxs)
    src_idxs[axis] = at
    value = yield src, tuple(src_idxs), inside
    return u("where", value.dtype, (inside, value, L.scalar_arg(0, node.dtype)))


LEAF_LOWERING = {"const": _lower_const, "iota": _lower_iota}  # they need no other value
LOWERING = {
    **{op: _lower_elementwise for op in O.ELEMENTWISE},
    "reduce": _lower_reduce,
    "gather": _lower_gather,
}


# ---- movement ops rewrite the index expressions ------------------------------------------

def _lower_detach(L, node: Node, idxs, valid) -> Rule:
    return (yield node.srcs[0], idxs, valid)


def reshape_groups(shape: tuple[int, ...], src_shape: tuple[int, ...]) -> list[tuple[list[int], list[int]]]:
    """The dims of a reshape's result and of its source, cut into the smallest runs whose sizes
    multiply to the same number (size-1 dims left out): a run maps on its own, as row-major
    order keeps every other run's index where it is."""
    groups: list[tuple[list[int], list[int]]] = []
    mine = [d for d, n in enumerate(shape) if n != 1]
    theirs = [d for d, n in enumerate(src_shape) if n != 1]
    a = b = 0
    while a < len(mine) or b < len(theirs):
        run, src_run = [mine[a]], [theirs[b]]
        size, src_size = shape[mine[a]], src_shape[theirs[b]]
        a, b = a + 1, b + 1
        while size != src_size:
            if size < src_size:
                run.append(mine[a])
                size, a = size * shape[mine[a]], a + 1
            else:
                src_run.append(theirs[b])
                src_size, b = src_size * src_shape[theirs[b]], b + 1
        groups.append((run, src_run))
    return groups


def _lower_reshape(L, node: Node, idxs, valid) -> Rule:
    """Each run of dims maps on its own (reshape_groups): a padded read's index may leave its
    range where the read is masked off, and a flat index over every dim would then carry into
    its neighbours, so that no bound could take the division out of the kernel."""
    (src,) = node.srcs
    src_idxs = [S.lit(0)] * len(src.shape)
    if src.numel == 0:  # an empty source is only read inside a loop of no steps: any index will do
        return (yield src, tuple(src_idxs), valid)
    for run, src_run in reshape_groups(node.shape, src.shape):
        flat = S.lit(0)
        for d, st in zip(run, contiguous_strides(tuple(node.shape[d] for d in run))):
            flat = S.add(flat, S.mul(idxs[d], st))
        for d, st in zip(src_run, contiguous_strides(tuple(src.shape[d] for d in src_run))):
            src_idxs[d] = flat if len(src_run) == 1 else S.mod(S.floordiv(flat, st), src.shape[d])
    return (yield src, tuple(src_idxs), valid)


def _lower_permute(L, node: Node, idxs, valid) -> Rule:
    src_idxs = tuple(idxs[i] for i in inverse_permutation(node.arg))
    return (yield node.srcs[0], src_idxs, valid)


def _lower_expand(L, node: Node, idxs, valid) -> Rule:
    src = node.srcs[0]
    src_idxs = tuple(S.lit(0) if n == 1 else i for i, n in zip(idxs, src.shape))
    return (yield src, src_idxs, valid)


def _lower_shrink(L, node: Node, idxs, valid) -> Rule:
    src_idxs = tuple(S.add(i, start) for i, (start, _) in zip(idxs, node.arg))
    return (yield node.srcs[0], src_idxs, valid)


def _lower_flip(L, node: Node, idxs, valid) -> Rule:
    src_idxs = tuple(S.add(S.mul(i, -1), n - 1) if f else i
                     for i, f, n in zip(idxs, node.arg, node.shape))
    return (yield node.srcs[0], src_idxs, valid)


def _lower_pad(L, node: Node, idxs, valid) -> Rule:
    src = node.srcs[0]
    widths, fill = node.arg
    src_idxs, inside = [], S.TRUE
    for i, (before, _), n in zip(idxs, widths, src.shape):
        j = S.add(i, -before)
        src_idxs.append(j)
        inside = S.both(inside, S.in_range(j, n))
    value = yield src, tuple(src_idxs), S.both(valid, inside)
    if inside is S.TRUE:
        return value
    return u("where", value.dtype, (inside, value, L.scalar_arg(fill, node.dtype)))


MOVEMENT_LOWERING = {
    "detach": _lower_detach,
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
    kernel.values = [lowerer.lower(o, out_vars, S.TRUE) for o in outs]
    return kernel


def strided_view(node: Node) -> tuple[Node, tuple[int, ...], int] | None:
    """If `node` is movement ops over one realised node, expressible as strides
    and an offset (no masks, no divisions), return (base, strides, offset)."""
    chain = []
    base = node
    while base.op in O.MOVEMENT and not base.realized:
        chain.append((base.op, base.shape, base.arg if base.arg is None else _arg_key(base.arg)))
        base = base.srcs[0]
    if not base.realized or base is node:
        return None
    # the same views are asked for at every step of a loop (a parameter's gradient, read
    # transposed): the layout depends on the chain and the base's layout alone
    key = (tuple(chain), base.dtype, base.shape, base.buffer.strides, base.buffer.offset)
    layout = _VIEW_LAYOUTS.get(key, _UNKNOWN)
    if layout is _UNKNOWN:
        layout = remember(_VIEW_LAYOUTS, key, _view_layout(node, base), _VIEW_LAYOUTS_LIMIT)
    return None if layout is None else (base, *layout)


_VIEW_LAYOUTS: dict[tuple, tuple[tuple[int, ...], int] | None] = {}
_VIEW_LAYOUTS_LIMIT = 4096
_UNKNOWN = object()


def _view_layout(node: Node, base: Node) -> tuple[tuple[int, ...], int] | None:
    """The strides and offset into `base`'s buffer that `node` reads, if there are such."""
    if node.numel == 0:
        return contiguous_strides(node.shape), 0
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
    return strides, offset
