"""Pick a kernel's optimisation choices from the device's declared caps.

The result is a plain list of `Opt`s, the same kind of value a search would
produce; every candidate is checked by applying it, so a choice that does not
fit a kernel is skipped, never half-applied. The rules follow measured facts
(shared PERF_NOTES): on a CPU, explicit 16-wide vectors, one work-item per row
for row reductions (its loops hoist the row's reductions), register-blocked
matmul tiles over a packed right-hand operand, and few barriers; on a GPU,
work-groups of a few hundred work-items, and a long reduction shared by one
work-group through a tree in local memory.
"""
from __future__ import annotations

from ..ir.traverse import postorder
from . import uops as S
from .caps import DeviceCaps
from .lower import LoweredKernel
from .opt import KernelPlan, Opt, OptError, OptKind, apply_opt, initial_plan, reduces_over
from .uops import U


REDUCE_ACCUMULATORS = 4


class _Builder:
    """Accumulates choices that apply; a failing one is dropped."""

    def __init__(self, kernel: LoweredKernel, varying: frozenset[str] = frozenset()):
        self.kernel = kernel
        self.varying = varying
        self.opts: list[Opt] = []
        self.plan = initial_plan(kernel, varying)

    def try_add(self, *opts: Opt) -> bool:
        """Apply `opts` to a copy of the plan so far (not a plan made again from the start:
        a kernel of many small reductions takes a choice for each)."""
        plan = self.plan.copy()
        try:
            for opt in opts:
                apply_opt(plan, opt)
        except OptError:
            return False
        self.opts += opts
        self.plan = plan
        return True


def _loads(n: U) -> list[U]:
    return [m for m in postorder([n], lambda m: m.srcs) if m.op == "load"]


def _depends_on(n: U, var: U) -> bool:
    return var in postorder([n], lambda m: m.srcs)


def _matmul_operands(plan: KernelPlan, widths: tuple[int, ...]):
    """(reduce variable index, m_axis, n_axis, y gathered along n) when a reduction is a sum of a product of two
    operands x and y, where y varies along the output axis n and x does not, and x varies
    along an axis m that y does not. y is read in vector lanes (and packed when large), x as
    scalars a row at a time. So n is the axis whose y is smallest (a convolution's weights,
    not its windows); on a tie the innermost, whose stores are contiguous. But where x would
    step a whole row per reduction step and not stay in cache (a weight's gradient, dy^T @ x,
    summed over a long batch), the smaller such x comes first: its scattered reads are then
    the kernel's cost, as are the reads outside the reduction (a ReLU's mask in a backward
    pass) that lanes along n would gather. An axis that no vector width of at least
    MATMUL_MIN_WIDTH divides (a classifier's 10 outputs) is never n, nor one along which y
    would be gathered by too few rows to pack it: the reduction's own vector lanes serve
    those better."""
    best = None
    for k, var in enumerate(plan.reduce_axes):
        r = next(iter(reduces_over(plan, var)), None)
        if r is None or r.arg[0] != "sum" or r.srcs[0].op != "mul":
            continue
        for n_axis in reversed(range(len(plan.axes))):
            n_var = plan.axes[n_axis].var
            if not any(plan.axes[n_axis].size % w == 0 for w in widths if w >= MATMUL_MIN_WIDTH):
                continue
            x, y = r.srcs[0].srcs
            if _depends_on(x, n_var):
                x, y = y, x
            if _depends_on(x, n_var) or not _depends_on(y, n_var):
                continue
            m_axis = next((m for m in reversed(range(len(plan.axes))) if m != n_axis
                           and plan.axes[m].size >= MATMUL_MIN_ROWS
                           and _depends_on(x, plan.axes[m].var) and not _depends_on(y, plan.axes[m].var)), None)
            if m_axis is None:
                continue
            gathered = _gathered_along(y, n_var)
            if gathered and plan.kernel.numel // plan.axes[n_axis].size < PACK_MIN_ROWS:
                continue  # too few rows to pay for packing y, and its lanes would be gathered
            cost = (_strided_bytes(x, var) + _gathered_outside(plan, n_var), _extent(y))
            if best is None or cost < best[0]:
                best = (cost, (k, m_axis, n_axis, gathered))
        if best is not None:
            return best[1]
    return None


PACK_MIN_ROWS = 64  # output rows that reuse a packed operand enough to pay for its copy

# narrower output panels than this (a classifier of 10 outputs, 2 lanes) lose to the other
# output axis's, or to the reduction's own vector lanes where its operands are contiguous along it
MATMUL_MIN_WIDTH = 4
# an axis of fewer rows (a 3x3 window's) cannot be the tile's rows: a larger one can, even
# where it is not the innermost (a convolution weight's gradient, rows along its channels)
MATMUL_MIN_ROWS = 4


# A scalar operand read a row apart at each reduction step costs a cache line a step once it
# no longer stays in a core's cache (about 1 MiB of L2 a core on the CPUs measured)
STRIDED_CACHE_BYTES = 1 << 20


def _strided_bytes(x: U, var: U) -> int:
    """The bytes of operand x when it moves by more than one element per step of reduce
    variable `var` and is too large to stay in cache; 0 otherwise."""
    if not any(_steps_apart(load, var) for load in _loads(x)):
        return 0
    size = _extent(x) * x.dtype.itemsize
    return size if size > STRIDED_CACHE_BYTES else 0


def _steps_apart(load: U, var: U) -> bool:
    """Does `load` move by more than one element per step of `var` (a row apart, say)?"""
    return S.linear(load.srcs[0])[0].get(var, 0) not in (0, 1)


def _gathered_outside(plan: KernelPlan, var: U) -> int:
    """The bytes of the loads outside the kernel's reductions that vector lanes along `var`
    would gather (they move by more than one element per step of it)."""
    outside = postorder(plan.roots, lambda m: () if m.op == "reduce" else m.srcs)
    return sum(_extent(ld) * ld.dtype.itemsize for ld in outside if ld.op == "load" and _steps_apart(ld, var))


def _extent(n: U) -> int:
    """How many distinct elements an operand spans: the product of its variables' sizes."""
    size = 1
    for v in S.variables(n):
        size *= v.arg[1]
    return size


def _gathered_along(y: U, var: U) -> bool:
    """Would vector lanes along `var` gather y's elements one by one (y is not contiguous
    along `var`)? Then packing y into panels pays whatever its size."""
    for load in _loads(y):
        terms, _ = S.linear(load.srcs[0])
        if terms.get(var, 0) not in (0, 1) or any(a is not var and _depends_on(a, var) for a in terms):
            return True
    return False


def _reduce_size(plan: KernelPlan, k: int) -> int:
    """Steps of reduction k over all its variables (a convolution's channels and window)."""
    var = plan.reduce_axes[k]
    r = reduces_over(plan, var)[0]
    size = 1
    for v in r.arg[1]:
        size *= v.arg[1]
    return size


def _largest_divisor(n: int, choices: tuple[int, ...]) -> int:
    return next((c for c in choices if n % c == 0), 1)


def _matmul_opts(b: _Builder, caps: DeviceCaps, found) -> bool:
    k, m_axis, n_axis, gathered = found
    m_size, n_size = b.plan.axes[m_axis].size, b.plan.axes[n_axis].size
    width = next((w for w in caps.vector_widths if n_size % w == 0), None)
    if width is None or m_size < MATMUL_MIN_ROWS:
        return False
    n_copies = _largest_divisor(n_size // width, (4, 3, 2))
    m_copies = _largest_divisor(m_size, (4, 3, 2))
    # a packed copy costs a launch: it pays when many output rows reuse a large operand
    rows = b.kernel.numel // n_size
    big = rows >= PACK_MIN_ROWS and (gathered or n_size * _reduce_size(b.plan, k) >= 4096)
    if caps.is_cpu and big:  # every product of the kernel (q, k and v of one x) gets packed
        for j in range(len(b.plan.reduce_axes)):
            b.try_add(Opt(OptKind.PACK, j, width * n_copies, along=n_axis))
    axes_before = len(b.plan.axes)
    if not b.try_add(Opt(OptKind.UPCAST, n_axis, width)):
        return False
    if len(b.plan.axes) < axes_before and n_axis < m_axis:  # lanes used up axis n: the later axes renumber
        m_axis -= 1
    axes_before = len(b.plan.axes)
    if m_copies > 1:
        b.try_add(Opt(OptKind.UNROLL, m_axis, m_copies))
    if len(b.plan.axes) < axes_before:  # the unroll used up axis m: no rows left to order
        n_axis, m_axis = (n_axis - 1 if m_axis < n_axis else n_axis), None
    axes_before = len(b.plan.axes)
    if n_copies > 1:  # last: it may use up axis n (later axes would renumber)
        b.try_add(Opt(OptKind.UNROLL, n_axis, n_copies))
    if m_axis is not None and len(b.plan.axes) < axes_before and n_axis < m_axis:
        m_axis -= 1
    if m_axis is not None:  # a work-group of rows shares one panel of the vector operand (hot in cache)
        b.try_add(Opt(OptKind.GLOBAL_ORDER, m_axis, 1))
    return True


def _independent_axes(plan: KernelPlan) -> list[int]:
    """Trailing global axes that no reduction depends on: a work-item that loops over them
    computes each reduction once per row instead of once per element."""
    reduces = [n for n in postorder(plan.roots, lambda m: m.srcs) if n.op == "reduce"]
    out = []
    for i in reversed(range(len(plan.axes))):
        var = plan.axes[i].var
        if any(_depends_on(r, var) for r in reduces):
            break
        out.insert(0, i)
    return out if len(out) < len(plan.axes) else []


# A kernel of more reductions than this (a recurrent net's steps, fused) keeps them plain
# loops: they are short chains one after another, where vector accumulators buy nothing, and
# planning a choice for each costs a walk of the whole kernel.
MANY_REDUCTIONS = 16


def _reduce_opts(b: _Builder, caps: DeviceCaps) -> None:
    if len(b.plan.reduce_axes) > MANY_REDUCTIONS:
        _upcast_innermost(b, caps)
        return
    for k, var in enumerate(b.plan.reduce_axes):
        contiguous = any(S.linear(ld.srcs[0])[0].get(var) == 1 for ld in
                         _loads_under(b.plan.roots, var))
        if contiguous:
            for w in sorted(caps.vector_widths, key=lambda w: _lane_steps(var.arg[1], w)):
                if b.try_add(Opt(OptKind.REDUCE_UPCAST, k, w)):
                    break
        # independent accumulators hide the add's latency: one chain of vector adds runs at
        # a third of the bandwidth a row sum can reach
        b.try_add(Opt(OptKind.REDUCE_UNROLL, k, REDUCE_ACCUMULATORS))
    loops = _independent_axes(b.plan)
    if loops:
        for i in loops:
            b.try_add(Opt(OptKind.LOOP, i))
    _upcast_innermost(b, caps)


def _lane_steps(size: int, width: int) -> tuple[int, int]:
    """The steps a reduction of `size` takes in vectors of `width` lanes: whole vectors, then a
    scalar step per element of the ragged tail (28 in lanes of 16 is 13 steps, in lanes of 8
    is 7), the wider first on a tie."""
    return size // width + size % width, -width


def _gpu_reduce_opts(b: _Builder, caps: DeviceCaps) -> None:
    """A long reduction is shared by a work-group (consecutive work-items read consecutive
    elements, a tree in local memory combines them); a short one stays one work-item's loop."""
    for k, var in enumerate(b.plan.reduce_axes):
        size = var.arg[1]
        for n in GPU_GROUP_SIZES:
            if n <= caps.max_work_group_size and size >= 4 * n and b.try_add(Opt(OptKind.GROUP, k, n)):
                return


GPU_GROUP_SIZES = (256, 128, 64, 32)


def _loads_under(roots: list[U], var: U) -> list[U]:
    return [n for n in postorder(roots, lambda m: m.srcs) if n.op == "load" and _depends_on(n.srcs[0], var)]


def _upcast_innermost(b: _Builder, caps: DeviceCaps) -> None:
    if not b.plan.axes:
        return
    last = len(b.plan.axes) - 1
    size = b.plan.axes[last].size
    for w in caps.vector_widths:
        if w <= size and b.try_add(Opt(OptKind.UPCAST, last, w)):
            return


def _tile_gathered_reads(b: _Builder) -> None:
    """An input read across the vector lanes a row apart (an optimizer's update of a weight
    whose gradient was summed transposed) touches a cache line per lane and uses one float of
    each; neighbouring rows of the output, copies in the same work-item, read the rest of
    those lines while they are still in cache."""
    lane = b.plan.lane
    if lane is None:
        return
    gathered = [n for n in postorder(b.plan.roots, lambda m: m.srcs) if n.op == "load" and _steps_apart(n, lane.var)]
    for i, axis in enumerate(b.plan.axes):
        if axis.var is lane.outer or not any(S.linear(ld.srcs[0])[0].get(axis.var) == 1 for ld in gathered):
            continue
        for rows in TILE_ROWS:
            if b.try_add(Opt(OptKind.UNROLL, i, rows)):
                return


TILE_ROWS = (16, 8, 4)  # output rows one work-item takes to use whole cache lines of a gathered read


def _local_opts(b: _Builder, caps: DeviceCaps) -> None:
    """Enough work-groups to keep every compute unit busy, each with enough work to pay
    for itself; dimension 0 only (one local size per kernel)."""
    glob = b.plan.global_axes
    if not glob:
        return
    first = next((a for a in glob if a is b.plan.first_axis), glob[-1])
    axis = b.plan.axes.index(first)
    size = first.size
    items = 1
    for a in glob:
        items *= a.size
    target = max(1, min(caps.max_work_group_size, items // (4 * caps.compute_units)))
    if not caps.is_cpu:
        target = min(target, 256)
    if first.var.op == "var" and first.var.arg[0] in b.varying:
        local = min(size, target)  # padded and guarded at any length (one code for every size)
    else:
        local = max((d for d in range(1, min(size, target) + 1) if size % d == 0), default=1)
    b.try_add(Opt(OptKind.LOCAL, axis, local))


def choose_opts(kernel: LoweredKernel, caps: DeviceCaps, write_once: bool = False,
                varying: frozenset[str] = frozenset()) -> list[Opt]:
    """The heuristic's choices for one kernel on one device. `write_once`: the output is a
    scratch copy (a packed operand), which non-temporal stores write at half the cost.
    `varying`: variables whose size varies between launches (no choice cuts them)."""
    b = _Builder(kernel, varying)
    has_reduce = any(n.op == "reduce" for n in postorder(b.plan.roots, lambda m: m.srcs))
    found = _matmul_operands(b.plan, caps.vector_widths) if has_reduce and len(b.plan.reduce_axes) <= MANY_REDUCTIONS else None
    if caps.is_cpu:
        if found is None or not _matmul_opts(b, caps, found):
            if has_reduce:
                _reduce_opts(b, caps)
            else:
                _upcast_innermost(b, caps)
                _tile_gathered_reads(b)
        if write_once:
            b.try_add(Opt(OptKind.STREAM, 0))
    elif has_reduce and found is None:
        _gpu_reduce_opts(b, caps)
    _local_opts(b, caps)
    return b.opts
