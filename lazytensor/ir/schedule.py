"""Fusion: decide which nodes become kernel outputs (are materialised).

Everything else is inlined into the kernels that read it: elementwise chains
fuse into their consumer, movement ops become index arithmetic, and a
reduction fuses the elementwise work before it and after it. A node is
materialised when it is asked for, or when inlining it would repeat work:
  - a reduction read by anything but one elementwise op of its own shape;
  - computed work that an expand would re-evaluate for every broadcast copy;
  - a reduction inside another reduction's loop (it runs as its own kernel), and a row
    reduction fused into a loop along which its row changes (ir/axis_dependence.py);
  - a reduction that several kernels would each compute inside themselves;
  - a node so deep in one kernel that the kernel would grow without bound;
  - computed values compared with their own max or min (below).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import ops as O
from .axis_dependence import varying_row_reductions
from .dtype import NARROW_FLOATS
from .kernel import KernelSpec, kernel_spec
from .node import Node
from .node_table import NodeSet
from .traverse import postorder

MAX_KERNEL_DEPTH = 48

# Why a node was stored, in words (graph dumps and the viz/ report show them).
WHY_ASKED = "asked for: a value this realisation returns"
WHY_REDUCTION = "reduction boundary: read by {readers}, not by one elementwise op of its shape"
WHY_BROADCAST = "broadcast: an expand would compute it again for every copy"
WHY_TIES = "compared with its own max or min: one stored copy keeps the ties exact"
WHY_NESTED = "a reduction inside another reduction's loop: a kernel of its own, run in parallel"
WHY_ROW_VARIES = "a row reduction whose row changes along the loop around it: stored, not computed at every step"
WHY_DEPTH = f"depth cap: more than {MAX_KERNEL_DEPTH} ops deep in one kernel"
WHY_SHARED = "a reduction {count} kernels would each compute: stored once"
WHY_KEPT = "one value wherever read (a random draw, a leaf's value): computed once, stored"
WHY_ROUNDS = "{dtype} converted: kernels compute it in float32, so it is stored to round it as PyTorch does"


class Stored(set):
    """Ids of the nodes stored so far, and the first reason each one was."""

    def __init__(self, ids=(), why: str = ""):
        super().__init__(ids)
        self.why = dict.fromkeys(ids, why)

    def store(self, node_id: int, why: str) -> None:
        if node_id not in self:
            self.add(node_id)
            self.why[node_id] = why

# Max/min reductions whose ties a later realisation finds by comparing the source with the
# result (autograd's gradient rule). Recomputed in another kernel a value can differ in its
# last bit (a vector exp is not the scalar one) and miss its own maximum, so the computed
# source of such a reduction is stored, and the reduction and the comparison read one copy.
TIES_COMPARED = NodeSet()


def ties_compared_later(n: Node) -> None:
    """Mark max/min reduction `n` as one whose source a later realisation compares with it."""
    TIES_COMPARED.add(n)


# Values that are one value wherever they are read: a random normal draw, a leaf's pending
# value. A kernel that computes them again could round them otherwise (a vector log is not
# the scalar one: an input drawn by randn would differ between the forward and the backward
# kernels that read it), so a realisation that computes one stores it, and every reader, in
# this realisation and the later ones, reads that copy.
KEPT = NodeSet()
KEPT_IDS = KEPT.ids()  # the structure walk asks for every node


def keep(n: Node) -> Node:
    """Mark `n` as a value stored whenever computed; returns it."""
    if not n.realized:
        KEPT.add(n)
    return n


def _store_kept(order: list[Node], materialised: Stored) -> None:
    for n in order:
        if id(n) in KEPT_IDS:
            materialised.store(id(n), WHY_KEPT)


def _extreme_source(n: Node) -> Node | None:
    """The computed values (below movement ops) a max/min reduction `n` reads, if any."""
    if n.op != "reduce" or n.realized or n.arg[0] not in ("max", "min"):
        return None
    base = _movement_base(n.srcs[0])
    return None if base.realized or base.op in O.LEAVES else base


def _compared_with_own_extreme(a: Node, b: Node) -> Node | None:
    """The computed values that one side is, when the other side is their max or min."""
    for values, peak in ((a, b), (b, a)):
        if _extreme_source(peak) is values:
            return values
    return None


def _store_compared_extremes(order: list[Node], materialised: Stored) -> None:
    """Store the computed source of a max/min reduction that is compared with it: marked
    for a later realisation, or compared in this graph (x == x.amax(1, keepdim=True))."""
    for n in order:
        if n.op == "reduce" and n in TIES_COMPARED:
            source = _extreme_source(n)
        elif n.op in O.COMPARISONS:
            source = _compared_with_own_extreme(*(_movement_base(s) for s in n.srcs))
        else:
            continue
        if source is not None:
            materialised.store(id(source), WHY_TIES)


@dataclass
class Schedule:
    kernels: list[KernelSpec]  # in dependency order
    views: list[Node]  # requested movement-only results: zero-copy where strides allow
    materialised: set[int]  # ids of the kernel outputs
    reasons: dict[int, str] | None = None  # id of a kernel output -> why it is stored (when known)


def toposort(targets: list[Node]) -> list[Node]:
    """Unrealised nodes under `targets`, sources first."""
    return [n for n in postorder(targets, lambda n: () if n.realized else n.srcs) if not n.realized]


def _movement_base(n: Node, stored: set[int] = frozenset()) -> Node:
    """The node `n`'s movement ops read: the first realised, stored or computed one below it."""
    while n.op in O.MOVEMENT and not n.realized:
        n = n.srcs[0]
        if id(n) in stored:
            break
    return n


def _over_stored(n: Node, stored: set[int]) -> bool:
    """Are `n`'s movement ops over a realised or stored node (so `n` may be a view of it)?"""
    base = _movement_base(n, stored)
    return base.realized or id(base) in stored


def _consumers(order: list[Node]) -> dict[int, list[Node]]:
    users: dict[int, list[Node]] = {}
    for n in order:
        for s in n.srcs:
            users.setdefault(id(s), []).append(n)
    return users


def _only_unit_dims_change(n: Node) -> bool:
    return n.op == "reshape" and [d for d in n.shape if d != 1] == [d for d in n.srcs[0].shape if d != 1]


def _must_materialise_reduce(n: Node, users: dict[int, list[Node]], wanted: set[int]) -> bool:
    """A reduction fuses into its one elementwise reader, seen through reshapes (index
    arithmetic on the output: a convolution's positions split back into rows and columns);
    any other reader would repeat the loop, so it gets a buffer."""
    readers = users.get(id(n), [])
    while len(readers) == 1 and readers[0].op in ("reshape", "detach"):
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


# A row reduction fuses into its readers' kernel (one work-item per row) where there are
# enough rows to keep the cores busy, or where each row is short: few short rows are a few
# microseconds of work either way, and a stored reduction costs a kernel launch. A rule on
# the row count alone would also schedule a sequence that grows a token a step (generation)
# one way below the threshold and another above it: a second set of kernels to compile.
ROWS_TO_FUSE = 16
SHORT_ROW = 1024


def _fusable_rows(rows: int, row_length: int) -> bool:
    return rows >= ROWS_TO_FUSE or row_length <= SHORT_ROW


def _row_broadcast_chain(n: Node, users: dict[int, list[Node]]) -> list[Node] | None:
    """If reduction n over trailing axes reaches its readers only through per-row elementwise
    ops and one expand back to its source's shape (softmax's sum, layernorm's variance), the
    nodes from n to that expand: the readers' kernel can compute n once per row, looping over
    the row, instead of storing it."""
    axes, shape = n.arg[1], n.srcs[0].shape
    k = len(shape) - len(axes)
    if axes != tuple(range(k, len(shape))) or not _fusable_rows(math.prod(shape[:k]), math.prod(shape[k:])):
        return None
    chain, cur = [n], n
    while True:
        readers = users.get(id(cur), [])
        if len(readers) != 1:
            return None
        r = readers[0]
        if r.op == "expand":
            break
        if not ((r.op in O.ELEMENTWISE and r.shape == cur.shape) or _only_unit_dims_change(r) or r.op == "detach"):
            return None
        chain.append(r)
        cur = r
    expand = readers[0]
    consumers = users.get(id(expand), [])
    if expand.shape != shape or not consumers or any(c.op not in O.ELEMENTWISE for c in consumers):
        return None
    return chain + [expand]


def schedule(targets: list[Node], fuse_row_reductions: bool = False) -> Schedule:
    """Cut the graph under `targets` into kernels. `fuse_row_reductions` (a device choice: a
    CPU runs one work-item per row well) lets a row reduction fuse into the kernel that
    broadcasts it back over the row."""
    order = toposort(targets)
    users = _consumers(order)
    wanted = {id(t) for t in targets}
    materialised = Stored(wanted, WHY_ASKED)
    in_rows: set[int] = set()
    for n in order:
        if n.op == "reduce":
            chain = _row_broadcast_chain(n, users) if fuse_row_reductions else None
            if chain is not None and not any(id(c) in wanted for c in chain):
                in_rows.update(id(c) for c in chain)
            elif _must_materialise_reduce(n, users, wanted):
                materialised.store(id(n), WHY_REDUCTION.format(readers=_readers_in_words(users.get(id(n), []))))
        work = _expanded_work(n)
        if work is not None and id(n) not in in_rows:
            materialised.store(id(work), WHY_BROADCAST)
    _store_compared_extremes(order, materialised)
    _store_kept(order, materialised)
    rounded = _store_rounding_points(order, users, materialised)
    _store_rows_varying_in_outer_loops(order, materialised, in_rows)
    _unnest_reductions(order, materialised, in_rows)
    _store_shared_reductions(order, materialised, in_rows)
    _cap_depth(order, materialised)
    views = [n for n in order if id(n) in wanted and n.op in O.MOVEMENT and _over_stored(n, materialised)]
    view_ids = {id(v) for v in views}
    kernels = [n for n in order if id(n) in materialised and id(n) not in view_ids]
    stored = set(materialised) - view_ids
    return Schedule(_group_siblings(kernels, stored, rounded), views, stored, materialised.why)


def _store_rounding_points(order: list[Node], users: dict[int, list[Node]], materialised: Stored) -> set[int]:
    """A 16-bit float value that is converted (a cast to it, or a cast of it to another type)
    and read on is stored, since only a store rounds it; the ids of those values."""
    rounded = set()
    for n in order:
        if n.dtype not in NARROW_FLOATS or n.realized or not users.get(id(n)):
            continue
        cast_to = n.op == "cast" and n.srcs[0].dtype != n.dtype
        if cast_to or any(u.op == "cast" and u.dtype != n.dtype for u in users[id(n)]):
            materialised.store(id(n), WHY_ROUNDS.format(dtype=n.dtype.name))
            rounded.add(id(n))
    return rounded


def _readers_in_words(readers: list[Node]) -> str:
    """'3 ops (expand, reshape)', 'the realisation only'."""
    if not readers:
        return "the realisation only"
    return f"{len(readers)} op{'s' if len(readers) > 1 else ''} ({', '.join(sorted({r.op for r in readers}))})"


def _group_siblings(kernels: list[Node], materialised: set[int], rounded: set[int] = frozenset(),
                    max_outputs: int = 8) -> list[KernelSpec]:
    """Merge kernels of one shape that read a common buffer into one multi-output kernel
    (an optimizer's parameter and moment updates; a and b from one x), when everything
    the later one reads already exists where the group runs. A `rounded` member is never
    read inside the group: only its store rounds it."""
    position = {id(k): i for i, k in enumerate(kernels)}
    groups: list[tuple[list[Node], set[int], int, KernelSpec]] = []
    for i, k in enumerate(kernels):
        spec = kernel_spec((k,), materialised)
        reads = set(spec.input_ids)
        for members, group_reads, first, _ in reversed(groups):
            if members[0].shape != k.shape or len(members) >= max_outputs:
                continue
            own = {id(m) for m in members if id(m) not in rounded}
            # a member read at the same index is computed in the shared kernel itself
            inline = own & reads if own & reads <= _pointwise_reads(k, own, materialised) else None
            if inline is None or not ((reads - inline) & group_reads or inline):
                continue
            if all(position.get(r, -1) < first for r in reads - inline):
                members.append(k)
                group_reads |= reads - inline
                break
        else:
            groups.append(([k], reads, i, spec))
    return [spec if len(members) == 1 else kernel_spec(tuple(members), materialised)
            for members, _, _, spec in groups]


def _pointwise_reads(out: Node, candidates: set[int], materialised: set[int]) -> set[int]:
    """Which `candidates` the kernel for `out` reads only through elementwise ops (same index)."""
    pointwise, elsewhere = set(), set()
    stack = [(out, True)]
    seen: set[tuple[int, bool]] = set()
    while stack:
        n, direct = stack.pop()
        if (id(n), direct) in seen:
            continue
        seen.add((id(n), direct))
        if n is not out and id(n) in candidates:
            (pointwise if direct else elsewhere).add(id(n))
            continue
        if n.realized or (n is not out and id(n) in materialised):
            continue
        stack.extend((s, direct and (n.op in O.ELEMENTWISE or n.op == "detach")) for s in n.srcs)
    return pointwise - elsewhere


# Row reductions computed inside the loops of others, at most: softmax's max inside its sum
# inside attention's product with the values. A chain of matrix-vector products (a deep
# net's backward pass) is not such a pattern, and nesting it would repeat each inner loop
# for every step of the outer ones.
MAX_ROW_NESTING = 3


def _store_rows_varying_in_outer_loops(order: list[Node], materialised: Stored, in_rows: set[int]) -> None:
    """A row reduction fused into its row's kernel is computed once per row, before the loop
    of a reduction around it; where its row changes along that loop (a layer norm's weight
    gradient sums over the rows that the row statistics scale), it is stored instead
    (ir/axis_dependence.py)."""
    holds_rows: set[int] = set()  # nodes whose kernel computes a fused row reduction under them
    for n in order:
        if (n.op == "reduce" and id(n) in in_rows) or any(
                id(s) in holds_rows and id(s) not in materialised for s in n.srcs):
            holds_rows.add(id(n))
    for outer in order:
        if outer.op == "reduce" and id(outer.srcs[0]) in holds_rows:
            for row in varying_row_reductions(outer, materialised, in_rows):
                materialised.store(id(row), WHY_ROW_VARIES)
                in_rows.discard(id(row))


def _unnest_reductions(order: list[Node], materialised: Stored, in_rows: set[int]) -> None:
    """A reduction inside another reduction's loop body gets its own kernel, so the
    inner loops run in parallel rather than inside one work-item's outer loop. A row
    reduction broadcast back over its row is the exception: it does not vary along the
    outer loop, so the work-item computes it once per row, before that loop (softmax's max
    before its sum), up to MAX_ROW_NESTING loops deep."""
    enclosing: dict[int, int] = {}  # node -> how many reductions' loops it is computed inside
    for n in reversed(order):
        depth = 0 if id(n) in materialised and n.op != "reduce" else enclosing.get(id(n), 0)
        if n.op == "reduce":
            if depth and (id(n) not in in_rows or depth >= MAX_ROW_NESTING):
                materialised.store(id(n), WHY_NESTED)
                depth = 0
            depth += 1
        if depth:
            for s in n.srcs:
                enclosing[id(s)] = max(enclosing.get(id(s), 0), depth)


def _store_shared_reductions(order: list[Node], materialised: Stored, in_rows: set[int]) -> None:
    """A reduction that several kernels would compute inside themselves runs its loop once,
    into a buffer they read (an unrolled recurrent net: every later step's kernels read the
    earlier steps' matrix products). Row reductions fused into their row's kernel stay."""
    while True:
        reached: dict[int, int] = {}
        for root in [n for n in order if id(n) in materialised]:
            seen: set[int] = set()
            stack = list(root.srcs)
            while stack:
                n = stack.pop()
                if id(n) in seen or n.realized or id(n) in materialised:
                    continue
                seen.add(id(n))
                if n.op == "reduce" and id(n) not in in_rows:
                    reached[id(n)] = reached.get(id(n), 0) + 1
                stack.extend(n.srcs)
        shared = [i for i, count in reached.items() if count > 1]
        if not shared:
            return
        for i in shared:
            materialised.store(i, WHY_SHARED.format(count=reached[i]))


def _cap_depth(order: list[Node], materialised: Stored) -> None:
    depth: dict[int, int] = {}
    for n in order:
        d = 1 + max((depth.get(id(s), 0) for s in n.srcs), default=0)
        if d > MAX_KERNEL_DEPTH:
            materialised.store(id(n), WHY_DEPTH)
        depth[id(n)] = 0 if id(n) in materialised else d
