"""A kernel's iteration space as data, and the optimisation choices that reshape it.

A `KernelPlan` starts as one global axis per output axis and the lowered store
expressions. Each `Opt` is a small value; `apply_opt` checks it against the
plan and either rewrites the plan (by substitution on the loop IR, which keeps
index arithmetic simplified) or raises `OptError`. The renderer never decides
anything: it prints what the plan says.

Axis kinds:
  global   one work-item per index (an NDRange dimension)
  loop     a serial loop inside each work-item (hoists work that does not depend on it)
  upcast   the lanes of a vector (one per kernel: the innermost output axis)
  unroll   copies of the body (applied at once: the copies are separate stores)
  group    the work-items of one work-group sharing a reduction (GPUs): each sums a strided
           part, then a tree in local memory combines the parts and one work-item stores
Reduce variables split the same way: REDUCE_UPCAST gives a vector accumulator
(and a scalar remainder loop when the size is ragged), REDUCE_UNROLL several
independent accumulators in one loop (the adds no longer wait on each other).
"""
from __future__ import annotations

import weakref
from functools import lru_cache
from dataclasses import dataclass, field, replace
from enum import Enum

from ..ir.bounded import remember
from ..ir.dtype import DType, bool_, float16, float32, int32
from ..ir.ops import REDUCE_COMBINE
from ..ir.traverse import postorder
from . import uops as S
from ..ir.layout import contiguous_strides
from .lower import LoweredKernel
from .uops import U, u


class OptError(ValueError):
    """An optimisation choice that does not apply to this kernel."""


class OptKind(Enum):
    UPCAST = "upcast"                # axis -> (outer, vector lanes of `amount`)
    UNROLL = "unroll"                # axis -> (outer, `amount` copies); amount must divide the size
    LOOP = "loop"                    # a global axis becomes a loop inside each work-item
    LOCAL = "local"                  # work-group size `amount` along a global axis
    REDUCE_UPCAST = "reduce_upcast"  # reduce variable `axis` -> vector accumulator of `amount` lanes
    REDUCE_UNROLL = "reduce_unroll"  # reduction `axis` -> `amount` accumulators in one loop
    GROUP = "group"                  # reduction `axis` shared by a work-group of `amount` (a local tree)
    PACK = "pack"                    # reduction `axis`'s operand into panels `amount` wide along axis `along`
    GLOBAL_ORDER = "global_order"    # global axis `axis` is NDRange dimension 0 (the rest innermost first)
    STREAM = "stream"                # vector stores bypass the cache (outputs written once, read later)


def reduce_by_fields(obj) -> tuple:
    """Pickle a slotted dataclass as its class and field values: the state functions that
    dataclasses give slotted classes ask `fields()` per object, and a plan read from disk
    (runtime/plan_cache.py) unpickles a hundred such objects per realisation."""
    return type(obj), tuple(getattr(obj, name) for name in obj.__slots__)


@dataclass(frozen=True, slots=True)
class Opt:
    kind: OptKind
    axis: int
    amount: int = 0
    along: int = -1  # PACK only: the output axis the panels run along (default the innermost)

    __reduce__ = reduce_by_fields

    def __repr__(self) -> str:
        along = "" if self.along == -1 else f", along={self.along}"
        return f"Opt({self.kind.name}, {self.axis}, {self.amount}{along})"


@dataclass
class Axis:
    var: U
    size: int
    kind: str = "global"
    local: int = 1


@dataclass
class Lane:
    """The output axis held in vector lanes: index = outer * width + lane, for index < size."""
    var: U
    width: int
    outer: U
    size: int

    @property
    def ragged(self) -> bool:
        return self.size % self.width != 0


@dataclass
class Store:
    slot: int
    index: U
    value: U


@dataclass
class Pack:
    """A copy kernel run first: its output is the scratch buffer that slot `slot` reads."""
    kernel: LoweredKernel
    slot: int
    dtype: DType


VECTOR_DTYPES = (float32, int32, bool_)
VECTOR_UNSAFE_OPS = frozenset({"pow", "shl", "shr"})
WIDTHS = (2, 4, 8, 16)


@dataclass
class KernelPlan:
    kernel: LoweredKernel
    axes: list[Axis]
    stores: list[Store]
    lane: Lane | None = None
    vector_vars: set = field(default_factory=set)  # reduce lanes (always vectors)
    packs: list[Pack] = field(default_factory=list)
    first_axis: Axis | None = None  # NDRange dimension 0 (default: the innermost global axis)
    streaming: bool = False  # non-temporal vector stores
    group: U | None = None  # the work-group lane of a grouped reduction
    opts: list[Opt] = field(default_factory=list)
    reduce_axes: list[U] = field(default_factory=list)  # each reduction's innermost variable, as lowered
    reduce_loops: dict[int, U] = field(default_factory=dict)  # reduction index -> its serial loop now
    varying: frozenset[str] = frozenset()  # names of the variables whose size varies between launches
    _fresh: int = 0

    def copy(self) -> "KernelPlan":
        """A plan that choices can be applied to without changing this one (the loop IR is
        immutable and shared; the axes, lanes and lists are the copy's own)."""
        axes = [replace(a) for a in self.axes]
        first = None if self.first_axis is None else axes[self.axes.index(self.first_axis)]
        return replace(self, axes=axes, stores=list(self.stores), lane=None if self.lane is None else replace(self.lane),
                       vector_vars=set(self.vector_vars), packs=list(self.packs), first_axis=first,
                       opts=list(self.opts), reduce_axes=list(self.reduce_axes), reduce_loops=dict(self.reduce_loops))

    def fresh_var(self, prefix: str, size: int) -> U:
        self._fresh += 1
        return S.var(f"{prefix}{self._fresh}", size)

    @property
    def roots(self) -> list[U]:
        return [s.value for s in self.stores] + [s.index for s in self.stores]

    def reduce_vars(self) -> list[U]:
        """The innermost variable of each distinct reduction, in program order."""
        out: list[U] = []
        for n in postorder(self.roots, lambda n: n.srcs):
            if n.op == "reduce" and n.arg[1][-1] not in out and n.arg[1][-1] not in self.vector_vars:
                out.append(n.arg[1][-1])
        return out

    def substitute(self, mapping: dict[U, U]) -> None:
        values = S.substitute(self.roots, mapping)
        k = len(self.stores)
        self.stores = [replace(s, value=v, index=i) for s, v, i in zip(self.stores, values[:k], values[k:])]

    @property
    def global_axes(self) -> list[Axis]:
        return [a for a in self.axes if a.kind in ("global", "group")]


# the initial axes and stores of the last few kernels planned: a kernel is planned several
# times (its variables' sizes, the heuristic's trials, its choices), and merging its axes walks
# it each time. Kept by weak reference: a kernel holds its graph's nodes.
_INITIAL: dict[int, tuple[weakref.ref, list[Axis], list[Store], list[U]]] = {}
_INITIAL_LIMIT = 64


def initial_plan(kernel: LoweredKernel, varying: frozenset[str] = frozenset()) -> KernelPlan:
    """One global axis per output axis, one store per output. `varying`: the variables whose
    size differs between kernels that share one generic program (codegen/hoist.py)."""
    known = _INITIAL.get(id(kernel))
    if known is None or known[0]() is not kernel:
        plan = _merged_plan(kernel)
        known = remember(_INITIAL, id(kernel), (weakref.ref(kernel), plan.axes, plan.stores, plan.reduce_axes),
                         _INITIAL_LIMIT)
    _, axes, stores, reduce_axes = known
    return KernelPlan(kernel, [replace(a) for a in axes], list(stores), reduce_axes=list(reduce_axes),
                      varying=varying)


def _merged_plan(kernel: LoweredKernel) -> KernelPlan:
    flat = S.lit(0)
    for v, st in zip(kernel.out_vars, contiguous_strides(kernel.out_shape)):
        flat = S.add(flat, S.mul(v, st))
    axes = [Axis(v, v.arg[1]) for v in kernel.out_vars if v.op == "var"]
    stores = [Store(i, flat, value) for i, value in enumerate(kernel.values)]
    plan = KernelPlan(kernel, axes, stores)
    merge_axes(plan)
    plan.reduce_axes = plan.reduce_vars()
    return plan


def _count_divisions(roots: list[U]) -> int:
    return sum(1 for n in postorder(roots, lambda n: n.srcs) if n.op in ("idiv", "mod") and n.dtype == S.INDEX)


def merge_axes(plan: KernelPlan) -> None:
    """Merge neighbouring global axes when every access sees them as one (no new division):
    a (64, 768) elementwise kernel over contiguous buffers is one axis of 49152."""
    i = 0
    while i + 1 < len(plan.axes):
        outer, inner = plan.axes[i], plan.axes[i + 1]
        merged = S.var(f"{outer.var.arg[0]}_{inner.var.arg[0]}", outer.size * inner.size)
        mapping = {outer.var: S.floordiv(merged, inner.size), inner.var: S.mod(merged, inner.size)}
        trial = S.substitute(plan.roots, mapping)
        if _count_divisions(trial) <= _count_divisions(plan.roots):
            plan.substitute(mapping)
            plan.axes[i:i + 2] = [Axis(merged, merged.arg[1])]
        else:
            i += 1


# ---- the checked application of each choice ------------------------------------------------

def _axis(plan: KernelPlan, opt: Opt, kinds=("global",)) -> Axis:
    if not 0 <= opt.axis < len(plan.axes):
        raise OptError(f"{opt}: the kernel has {len(plan.axes)} axes")
    axis = plan.axes[opt.axis]
    if axis.kind not in kinds:
        raise OptError(f"{opt}: axis {opt.axis} is a {axis.kind} axis")
    return axis


def _depends(roots: list[U], var: U) -> list[U]:
    """Nodes under roots that depend on var."""
    deps: dict[int, bool] = {}
    out = []
    for n in postorder(roots, lambda n: n.srcs):
        d = n is var or any(deps[id(s)] for s in n.srcs)
        deps[id(n)] = d
        if d:
            out.append(n)
    return out


def _check_vectorisable(plan: KernelPlan, var: U, opt: Opt) -> None:
    """Every value that depends on the lanes must have a vector form in the renderer."""
    dtypes = plan.kernel.out_dtypes + plan.kernel.input_dtypes
    for n in _depends(plan.roots, var):
        if n.op == "load":
            stored = dtypes[n.arg] if n.arg < len(dtypes) else float32
            if stored not in VECTOR_DTYPES + (float16,):
                raise OptError(f"{opt}: loads {stored.name}, which has no vector form here")
        if n.dtype not in VECTOR_DTYPES:
            raise OptError(f"{opt}: computes {n.dtype.name} ({n.op}), which has no vector form here")
        if n.op in VECTOR_UNSAFE_OPS or (n.op in ("idiv", "mod") and not _plain_index_division(n)) \
                or (n.op == "fmod" and not n.dtype.is_floating_point):  # a lane's division by 0 traps
            raise OptError(f"{opt}: {n.op} has no vector form here")
        if n.op == "reduce" and any(v in plan.vector_vars for v in n.arg[1]):
            raise OptError(f"{opt}: a reduction over vector lanes cannot also vary along them")
    for store in plan.stores:
        stored = plan.kernel.out_dtypes[store.slot]
        if stored not in VECTOR_DTYPES + (float16,) and _depends([store.index, store.value], var):
            raise OptError(f"{opt}: stores {stored.name}, which has no vector form here")


def _plain_index_division(n: U) -> bool:
    return n.dtype == S.INDEX and n.srcs[1].op == "lit" and n.srcs[1].arg > 0 and n.srcs[0].bounds[0] >= 0


def _apply_upcast(plan: KernelPlan, opt: Opt) -> None:
    axis = _axis(plan, opt, ("global", "loop"))
    width = opt.amount
    if plan.lane is not None:
        raise OptError(f"{opt}: the kernel already has vector lanes")
    if plan.group is not None:
        raise OptError(f"{opt}: a grouped reduction keeps scalar work-items")
    if width not in WIDTHS or axis.size < width:
        raise OptError(f"{opt}: width must be one of {WIDTHS} and at most the axis size {axis.size}")
    outer = plan.fresh_var("o", -(-axis.size // width))
    lane = plan.fresh_var("l", width)
    _check_vectorisable(plan, axis.var, opt)  # stores along a strided axis scatter lane by lane
    plan.substitute({axis.var: S.add(S.mul(outer, width), lane)})
    plan.lane = Lane(lane, width, outer, axis.size)
    axis.var, axis.size = outer, outer.arg[1] if outer.op == "var" else 1
    if outer.op != "var":
        plan.axes.remove(axis)


def _apply_unroll(plan: KernelPlan, opt: Opt) -> None:
    axis = _axis(plan, opt, ("global", "loop"))
    n = opt.amount
    if n < 2 or axis.size % n:
        raise OptError(f"{opt}: {n} copies must divide the axis size {axis.size}")
    holds_lanes = plan.lane is not None and plan.lane.outer is axis.var
    if holds_lanes and plan.lane.ragged:
        raise OptError(f"{opt}: axis {opt.axis} holds ragged vector lanes")
    outer = plan.fresh_var("u", axis.size // n)
    copies = []
    for j in range(n):
        at = S.add(S.mul(outer, n), j)
        values = S.substitute(plan.roots, {axis.var: at})
        k = len(plan.stores)
        copies += [replace(s, value=v, index=i) for s, v, i in zip(plan.stores, values[:k], values[k:])]
    plan.stores = copies
    if holds_lanes:
        plan.lane.outer = outer
    axis.var, axis.size = outer, axis.size // n
    if axis.size == 1:
        plan.axes.remove(axis)


def _apply_loop(plan: KernelPlan, opt: Opt) -> None:
    _axis(plan, opt).kind = "loop"


def _apply_local(plan: KernelPlan, opt: Opt) -> None:
    axis = _axis(plan, opt)
    if plan.group is not None:
        raise OptError(f"{opt}: the work-group is the grouped reduction's")
    if opt.amount < 1 or opt.amount > axis.size:
        raise OptError(f"{opt}: a work-group of {opt.amount} along an axis of {axis.size}")
    axis.local = opt.amount


def _combine(op: str, dtype: DType, a: U, b: U) -> U:
    return u(REDUCE_COMBINE[op], dtype, (a, b))


def _outside_reductions(n: U) -> set:
    """The variables `n` reads, not counting those inside the reductions it holds (a lane a
    nested reduction binds is its own: softmax's sum may read a vectorised max)."""
    return {m for m in postorder([n], lambda m: () if m.op == "reduce" else m.srcs) if m.op == "var"}


def _vectorised_inside(n: U, var: U, lanes: set) -> bool:
    """Does a vectorised reduction nested in `n` read `var` (which would then give it a
    second vector lane)?"""
    nested = [m for m in postorder([n.srcs[0]], lambda m: m.srcs) if m.op == "reduce"]
    return any(var in S.variables(m) and lanes & set(S.variables(m)) for m in nested)


def _apply_reduce_upcast(plan: KernelPlan, opt: Opt) -> None:
    rvars = plan.reduce_axes
    if not 0 <= opt.axis < len(rvars):
        raise OptError(f"{opt}: the kernel has {len(rvars)} reduce variables")
    var, width = rvars[opt.axis], opt.amount
    if not reduces_over(plan, var):
        raise OptError(f"{opt}: reduce variable {opt.axis} was split already")
    size = var.arg[1]
    if width not in WIDTHS or size < width:
        raise OptError(f"{opt}: width must be one of {WIDTHS} and at most the reduce size {size}")
    lanes = set(plan.vector_vars) | ({plan.lane.var} if plan.lane is not None else set())
    if any(lanes & _outside_reductions(n.srcs[0]) or _vectorised_inside(n, var, lanes)
           for n in reduces_over(plan, var)):
        # one vector lane per value: an accumulator nested in another vectorised loop stays scalar
        raise OptError(f"{opt}: this reduction already varies along another vector lane")
    for n in reduces_over(plan, var):
        _check_vectorisable(KernelPlan(plan.kernel, [], [Store(0, S.lit(0), n.srcs[0])]), var, opt)
    outer, lane = plan.fresh_var("ro", size // width), plan.fresh_var("rl", width)
    full = size // width * width
    tail = plan.fresh_var("rt", size - full) if size > full else None
    mapping = {}
    for n in reduces_over(plan, var):
        vec = S.substitute([n], {var: S.add(S.mul(outer, width), lane)})[0]
        if tail is not None:
            rest = S.substitute([n], {var: S.add(tail, full)})[0]
            vec = _combine(n.arg[0], n.dtype, vec, rest)
        mapping[n] = vec
    plan.substitute(mapping)
    plan.vector_vars.add(lane)
    plan.reduce_loops[opt.axis] = outer


def _reduction_loop(plan: KernelPlan, opt: Opt) -> tuple[U, list[U]]:
    """Reduction `opt.axis`'s serial loop variable now, and the reductions over it."""
    rvars = plan.reduce_axes
    if not 0 <= opt.axis < len(rvars):
        raise OptError(f"{opt}: the kernel has {len(rvars)} reduce variables")
    var = plan.reduce_loops.get(opt.axis, rvars[opt.axis])
    reduces = reduces_over(plan, var)
    if not reduces:
        raise OptError(f"{opt}: reduction {opt.axis} has no serial loop left")
    return var, reduces


def _apply_reduce_unroll(plan: KernelPlan, opt: Opt) -> None:
    """Split reduction `axis`'s serial loop of s steps into `amount` reductions of s // amount
    steps (plus one over the remainder), combined pairwise: they share one loop, each with its
    own accumulator."""
    var, reduces = _reduction_loop(plan, opt)
    copies, size = opt.amount, var.arg[1]
    if copies < 2 or size < 2 * copies:
        raise OptError(f"{opt}: {copies} accumulators need at least {2 * copies} steps, the loop has {size}")
    outer = plan.fresh_var("ru", size // copies)
    full = size // copies * copies
    tail = plan.fresh_var("rt", size - full) if size > full else None
    mapping = {}
    for n in reduces:
        parts = [S.substitute([n], {var: S.add(S.mul(outer, copies), j)})[0] for j in range(copies)]
        if tail is not None:
            parts.append(S.substitute([n], {var: S.add(tail, full)})[0])
        mapping[n] = _pairwise(n.arg[0], n.dtype, parts)
    plan.substitute(mapping)
    plan.reduce_loops[opt.axis] = outer


def _apply_group(plan: KernelPlan, opt: Opt) -> None:
    """Reduction `axis` over s steps -> work-item j of a work-group of n sums steps j, j+n, ...
    (consecutive work-items read consecutive elements), then the group combines its n parts."""
    if plan.lane is not None or plan.group is not None or plan.first_axis is not None or any(a.local > 1 for a in plan.axes):
        raise OptError(f"{opt}: group a reduction before vector lanes, the global order or work-group choices")
    var, reduces = _reduction_loop(plan, opt)
    n, size = opt.amount, var.arg[1]
    if n not in GROUP_SIZES or size % n or size == n:
        raise OptError(f"{opt}: a group of {n} must be one of {GROUP_SIZES} and divide the reduce size {size}")
    if any(r.dtype == bool_ for r in reduces):
        raise OptError(f"{opt}: local memory holds no bool")
    lane, steps = plan.fresh_var("gl", n), plan.fresh_var("gr", size // n)
    mapping = {}
    for r in reduces:
        body = S.substitute([r.srcs[0]], {var: S.add(S.mul(steps, n), lane)})[0]
        rvars = tuple(steps if v is var else v for v in r.arg[1])  # the lane is not reduced here
        part = u("reduce", r.dtype, (body,), (r.arg[0], rvars))
        mapping[r] = u("greduce", r.dtype, (part,), (r.arg[0], lane))
    plan.substitute(mapping)
    plan.axes.append(Axis(lane, n, kind="group", local=n))
    plan.group = lane
    plan.reduce_loops[opt.axis] = steps


GROUP_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def _pairwise(op: str, dtype: DType, parts: list[U]) -> U:
    while len(parts) > 1:
        parts = [_combine(op, dtype, *parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def reduces_over(plan: KernelPlan, var: U) -> list[U]:
    """The reductions of the plan whose loop variables include `var`."""
    return [n for n in _reductions(tuple(plan.roots)) if var in n.arg[1]]


@lru_cache(maxsize=256)
def _reductions(roots: tuple[U, ...]) -> list[U]:
    """The reductions under `roots`, in post-order (asked several times per choice tried;
    the loop IR is immutable, so the answer for the same roots never changes)."""
    return [n for n in postorder(roots, lambda n: n.srcs) if n.op == "reduce"]


def _apply_pack(plan: KernelPlan, opt: Opt) -> None:
    """Evaluate the operand of reduction `axis`'s product that varies along the innermost
    output axis n into a scratch buffer laid out [batch..., n // P, reduce..., P]: the
    reduction then reads P consecutive values per step, and consecutive steps are
    consecutive in memory. Any operand works (a convolution's padded windows): the copy
    kernel evaluates it once instead of once per output row."""
    k = plan.kernel
    if plan.lane is not None or plan.group is not None or not plan.axes:
        raise OptError(f"{opt}: pack before any other choice")
    if not 0 <= opt.axis < len(plan.reduce_axes) or opt.amount not in range(4, 129):
        raise OptError(f"{opt}: needs a reduce variable index and a panel of 4..128")
    reduces = reduces_over(plan, plan.reduce_axes[opt.axis])
    if not reduces or reduces[0].srcs[0].op != "mul":
        raise OptError(f"{opt}: reduction {opt.axis} is not a sum of a product")
    if not -len(plan.axes) <= opt.along < len(plan.axes):
        raise OptError(f"{opt}: the kernel has {len(plan.axes)} axes")
    panel = plan.axes[opt.along].var
    operands = [x for x in reduces[0].srcs[0].srcs if panel in S.variables(x)]
    if len(operands) != 1:
        raise OptError(f"{opt}: exactly one operand must vary along axis {opt.along}")
    operand = operands[0]
    scratch_from = k.n_out + len(k.inputs)
    if any(n.op == "load" and n.arg >= scratch_from for n in postorder([operand], lambda m: m.srcs)):
        raise OptError(f"{opt}: reduction {opt.axis} is packed already")
    used = set(S.variables(operand))
    out_vars = [a.var for a in plan.axes]
    reduce_vars = [v for v in reduces[0].arg[1]]
    if not used <= set(out_vars) | set(reduce_vars):
        raise OptError(f"{opt}: the operand depends on variables outside the kernel's axes and reduction")
    batch = [v for v in out_vars if v in used and v is not panel]
    rvars = [v for v in reduce_vars if v in used]
    width = opt.amount
    panels = -(-panel.arg[1] // width)
    pshape = tuple(v.arg[1] for v in batch) + (panels,) + tuple(v.arg[1] for v in rvars) + (width,)
    pvars = tuple(S.var(f"g{i}", n) for i, n in enumerate(pshape))
    at: dict[U, U] = {v: pv for v, pv in zip(batch, pvars)}
    at.update({v: pv for v, pv in zip(rvars, pvars[len(batch) + 1:-1])})
    at[panel] = S.add(S.mul(pvars[len(batch)], width), pvars[-1])
    value = S.substitute([operand], at)[0]
    slots = {n: u("load", n.dtype, n.srcs, n.arg - k.n_out + 1)  # the copy kernel's buffer slots
             for n in postorder([value], lambda m: m.srcs) if n.op == "load"}
    value = S.substitute([value], slots)[0]
    inside = S.less_than(at[panel], panel.arg[1])
    if inside is not S.TRUE:
        value = u("where", value.dtype, (inside, value, S.lit(0, value.dtype)))
    pack = LoweredKernel(pshape, [operand.dtype], pvars, [value], list(k.inputs), list(k.input_dtypes), list(k.args))
    slot = k.n_out + len(k.inputs) + len(plan.packs)
    strides = contiguous_strides(pshape)
    flat = S.mod(panel, width)
    for v, st in zip(batch, strides):
        flat = S.add(flat, S.mul(v, st))
    flat = S.add(flat, S.mul(S.floordiv(panel, width), strides[len(batch)]))
    for v, st in zip(rvars, strides[len(batch) + 1:-1]):
        flat = S.add(flat, S.mul(v, st))
    plan.substitute({operand: u("load", operand.dtype, (flat, S.TRUE), slot)})
    plan.packs.append(Pack(pack, slot, operand.dtype))


def _reduces_containing(plan: KernelPlan, node: U) -> list[U]:
    return [n for n in postorder(plan.roots, lambda n: n.srcs)
            if n.op == "reduce" and node in postorder([n.srcs[0]], lambda m: m.srcs)]


def _apply_global_order(plan: KernelPlan, opt: Opt) -> None:
    if plan.group is not None:
        raise OptError(f"{opt}: the grouped reduction's work-items are NDRange dimension 0")
    plan.first_axis = _axis(plan, opt)


def _apply_stream(plan: KernelPlan, opt: Opt) -> None:
    lane = plan.lane
    if lane is None or lane.ragged:
        raise OptError(f"{opt}: streaming stores need whole vector lanes")
    for s in plan.stores:
        terms, offset = S.linear(s.index)
        if terms.get(lane.var) != 1:
            raise OptError(f"{opt}: a store scatters its lanes")
        if offset % lane.width or any(c % lane.width for a, c in terms.items() if a is not lane.var):
            raise OptError(f"{opt}: a store is not aligned to its vector width")
    plan.streaming = True


APPLY = {
    OptKind.UPCAST: _apply_upcast,
    OptKind.UNROLL: _apply_unroll,
    OptKind.LOOP: _apply_loop,
    OptKind.LOCAL: _apply_local,
    OptKind.REDUCE_UPCAST: _apply_reduce_upcast,
    OptKind.REDUCE_UNROLL: _apply_reduce_unroll,
    OptKind.GROUP: _apply_group,
    OptKind.PACK: _apply_pack,
    OptKind.GLOBAL_ORDER: _apply_global_order,
    OptKind.STREAM: _apply_stream,
}


# Choices that cut a variable by an amount: the code they make depends on its size (a vector
# tail, a divisor), so a variable whose size varies refuses them and stays a plain axis.
# (A work-group along it is fine: the launch pads the axis, and its code always guards it.)
_CUTS_GLOBAL = {OptKind.UPCAST, OptKind.UNROLL}
_CUTS_REDUCE = {OptKind.REDUCE_UPCAST, OptKind.REDUCE_UNROLL, OptKind.GROUP, OptKind.PACK}


def _cut_variables(plan: KernelPlan, opt: Opt) -> list[U]:
    """The variables `opt` would cut (PACK also lays out the output axis it runs along)."""
    cut = []
    if opt.kind in _CUTS_GLOBAL and 0 <= opt.axis < len(plan.axes):
        cut.append(plan.axes[opt.axis].var)
    if opt.kind in _CUTS_REDUCE and 0 <= opt.axis < len(plan.reduce_axes):
        cut.append(plan.reduce_axes[opt.axis])
    if opt.kind == OptKind.PACK and plan.axes:
        cut.append(plan.axes[opt.along].var if -len(plan.axes) <= opt.along < len(plan.axes) else plan.axes[-1].var)
    return cut


def apply_opt(plan: KernelPlan, opt: Opt) -> None:
    """Apply one choice, or raise OptError naming why it does not fit."""
    for var in _cut_variables(plan, opt):
        if var.op == "var" and var.arg[0] in plan.varying:
            raise OptError(f"{opt}: the size of {var.arg[0]} varies between launches")
    APPLY[opt.kind](plan, opt)
    plan.opts.append(opt)


def make_plan(kernel: LoweredKernel, opts: list[Opt], varying: frozenset[str] = frozenset()) -> KernelPlan:
    plan = initial_plan(kernel, varying)
    for opt in opts:
        apply_opt(plan, opt)
    return plan

