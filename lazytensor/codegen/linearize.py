"""Turn a kernel plan into straight-line statements for C-like targets.

Decides everything structural: NDRange dimensions and launch sizes, loops,
where each value is computed (as far out as its variables allow: loop-invariant
work is hoisted), which reductions share one loop, each value's vector width,
and whether a load is a vector load, a scalar broadcast or a gather. The
renderer prints the statements and nothing else.

Statements (tuples, first field the kind):
  ("gid", name, dim, decode)         decode = None or (divisor, size) of a merged dimension
  ("guard", name, size)              return when a padded NDRange index is past the end
  ("lanes", name, width)             the lane numbers 0..width-1 as an int vector
  ("const", name, value)             int name = value
  ("def", name, node, width, srcs)   srcs: [(name, width)] of node.srcs
  ("load", name, node, width, form, parts)   form: scalar | vector | gather | bordered
  ("acc", name, op, dtype, width)
  ("update", acc, op, dtype, width, parts)   parts: [(name, width)]; two parts = fused multiply-add
  ("hreduce", name, acc, op, dtype, width)
  ("greduce", name, part, op, dtype, lane, size, buf)   combine one part per work-item in local buf
  ("for", var, start, stop)          stop is an int or a C expression over names in scope
  ("for", ...) ("if", cond) ("else",) ("block",) open a block that ("end",) closes
  ("broadcast", name, dtype, width, (src_name, 1))
  ("store", slot, base_name, value_name, width, dtype)   width > 1: a vector store at base
  ("scatter", slot, index_name, value_name, width, dtype)   lane k stores at index.sk
  ("scatter_rows", slot, index_name, value_names, width, dtype)   lane k stores the k-th lane
                                     of each value, in order, as one short vector at index.sk
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generator

from ..ir.dtype import DType, float32, int32
from ..ir.traverse import evaluate, postorder
from . import uops as S
from .opt import KernelPlan
from .render_common import var_dependencies
from .uops import U, u


Ref = tuple  # (name, width) of a value in scope; a literal's name is ("lit", node)
# Computing a value yields each operand it needs and is sent back its Ref: evaluate() runs
# these on an explicit stack, so a kernel deeper than Python's recursion limit linearises.
Emit = Generator[U, Ref, Ref]


@dataclass
class Linearized:
    name: str
    statements: list[tuple]
    global_size: tuple[int, ...]
    local_size: tuple[int, ...] | None
    slot_dtypes: list[DType]  # outputs, inputs, then pack scratch buffers
    n_out: int
    arg_dtypes: list[DType]
    streaming: bool = False  # vector stores are non-temporal
    local_buffers: list[tuple[str, DType, int]] = field(default_factory=list)  # name, dtype, size
    # every element type the kernel holds (buffers, arguments, values): a target may need an
    # extension for some (OpenCL's float64)
    dtypes: frozenset[DType] = frozenset()


@dataclass
class _Scope:
    vars: set
    vector: U | None
    header: tuple
    items: list = field(default_factory=list)
    defined: dict = field(default_factory=dict)  # id(node) -> (name, width)
    is_open: bool = True


def _dependencies(roots: list[U], deps: dict[int, frozenset] | None = None) -> dict[int, frozenset]:
    """The loop variables each node under `roots` depends on (extending `deps`)."""
    deps = {} if deps is None else deps
    return var_dependencies(postorder(roots, lambda n: () if id(n) in deps else n.srcs), deps)


class _Linearizer:
    def __init__(self, plan: KernelPlan):
        self.plan = plan
        roots = plan.roots
        self.deps = _dependencies(roots)
        self.keep: list[U] = []
        self.reduces = [n for n in postorder(roots, lambda n: n.srcs) if n.op == "reduce"]
        self.scopes: list[_Scope] = []
        self.local_buffers: list[tuple[str, DType, int]] = []
        self.count = 0
        self.root = self._open(set(), None, ("root",))

    # ---- scopes: a child scope is a block; statements go before any still-open child -------
    def _open(self, new_vars: set, vector: U | None, header: tuple = ("block",)) -> _Scope:
        parent = self.scopes[-1] if self.scopes else None
        scope = _Scope((parent.vars if parent else set()) | new_vars,
                       vector if vector is not None else (parent.vector if parent else None), header)
        if parent is not None:
            self._insert(parent, [scope])
        self.scopes.append(scope)
        return scope

    def _close(self) -> None:
        self.scopes.pop().is_open = False

    def emit(self, stmt: tuple) -> None:
        self._insert(self.scopes[-1], [stmt])

    @staticmethod
    def _insert(scope: _Scope, items: list) -> None:
        at = next((i for i, it in enumerate(scope.items) if isinstance(it, _Scope) and it.is_open), None)
        if at is None:
            scope.items.extend(items)
        else:
            scope.items[at:at] = items

    def fresh(self, prefix: str = "t") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _lookup(self, n: U):
        for scope in reversed(self.scopes):
            if id(n) in scope.defined:
                return scope.defined[id(n)]
        return None

    def _home(self, n: U) -> _Scope:
        """The outermost open scope where every variable n depends on is defined."""
        need = self.dependencies(n)
        for scope in self.scopes:
            if need <= scope.vars:
                return scope
        raise AssertionError(f"{n} depends on variables outside every open scope")

    def dependencies(self, n: U) -> frozenset:
        if id(n) not in self.deps:
            self.keep.append(n)  # ids stay unique while the node lives
            _dependencies([n], self.deps)
        return self.deps[id(n)]

    def _width(self, n: U, scope: _Scope) -> int:
        v = scope.vector
        return v.arg[1] if v is not None and v in self.dependencies(n) else 1

    # ---- values ---------------------------------------------------------------------------
    def value(self, n: U) -> Ref:
        """(name, width) of n, emitting it where it belongs on first use."""
        return evaluate(self._value(n), self._value)

    def _value(self, n: U) -> Emit:
        if n.op == "lit":
            return ("lit", n), 1
        if n.op == "arg":
            return f"a{n.arg}", 1
        found = self._lookup(n)
        if found is not None:
            return found
        if n.op == "var":
            return n.arg[0], (n.arg[1] if self.scopes[-1].vector is n else 1)
        if n.op == "reduce":
            return (yield from self._reduce(n))
        if n.op == "greduce":
            return (yield from self._greduce(n))
        home = self._home(n)
        srcs = []
        for s in self._operands(n):
            srcs.append((yield s))
        width = self._width(n, home)
        name = self.fresh()
        if n.op == "load":
            stmt = yield from self._load(n, name, width, home)
        else:
            stmt = ("def", name, n, width, srcs)
        home.defined[id(n)] = (name, width)
        self._insert(home, [stmt])
        return name, width

    def _operands(self, n: U) -> tuple[U, ...]:
        return () if n.op == "load" else n.srcs

    def _load(self, n: U, name: str, width: int, home: _Scope) -> Generator[U, Ref, tuple]:
        index, valid = n.srcs
        lane = home.vector
        if width == 1:
            return ("load", name, n, 1, "scalar", [(yield index), (yield from self._valid(valid))])
        terms, offset = S.linear(index)
        rest = {a: c for a, c in terms.items() if a is not lane}
        contiguous = terms.get(lane) == 1 and all(lane not in self.dependencies(a) for a in rest) \
            and lane not in self.dependencies(valid)
        if contiguous:
            base = S.from_linear(rest, offset)
            return ("load", name, n, width, "vector", [(yield base), (yield from self._valid(valid))])
        if terms.get(lane) == 1 and all(lane not in self.dependencies(a) for a in rest) \
                and self._lanes_valid_in_a_run(valid, lane):
            base = S.from_linear(rest, offset)
            return ("load", name, n, width, "bordered", [(yield index), (yield valid), (yield base)])
        return ("load", name, n, width, "gather", [(yield index), (yield from self._valid(valid))])

    def _lanes_valid_in_a_run(self, valid: U, lane: U) -> bool:
        """Is `valid` true on one run of neighbouring lanes (an 'and' of bounds linear in the
        lane, as a pad's border makes)? Then a vector whose first and last lanes are valid is
        valid throughout, and reads its lanes in one vector load (a 'bordered' load)."""
        if valid.op == "and":
            return all(self._lanes_valid_in_a_run(s, lane) for s in valid.srcs)
        if lane not in self.dependencies(valid):
            return True
        if valid.op != "lt" or valid.srcs[0].dtype != S.INDEX:
            return False
        terms, _ = S.linear(valid.srcs[0])
        return lane not in self.dependencies(valid.srcs[1]) and \
            all(lane not in self.dependencies(a) for a in terms if a is not lane)

    @staticmethod
    def _valid(valid: U) -> Generator[U, Ref, Ref | None]:
        return None if valid is S.TRUE else (yield valid)

    # ---- reductions -----------------------------------------------------------------------
    def _reduce(self, n: U) -> Emit:
        """Emit n, and every other pending reduction over the same loop that can run where n
        runs, in one loop with one accumulator each (a register-blocked matmul's 16 tiles)."""
        op, rvars = n.arg
        home = self._home(n)
        group = [n] + [r for r in self.reduces if r is not n and r.arg == n.arg and self._lookup(r) is None
                       and self.dependencies(r) <= home.vars]
        saved = self.scopes
        self.scopes = self.scopes[:self.scopes.index(home) + 1]
        lane = next((v for v in rvars if v in self.plan.vector_vars), None)
        accs = []
        for r in group:
            width = lane.arg[1] if lane is not None else self._width(r.srcs[0], home)
            accs.append((self.fresh("acc"), width))
            self.emit(("acc", accs[-1][0], op, r.dtype, width))
        for v in rvars:
            if v is not lane:
                self._open({v}, None, ("for", v.arg[0], 0, v.arg[1]))
        if lane is not None:
            self._open({lane}, lane)
            self.emit(("lanes", lane.arg[0], lane.arg[1]))
        for r, (acc, width) in zip(group, accs):
            body = r.srcs[0]
            fused = op == "sum" and body.op == "mul" and body.dtype.is_floating_point
            parts = []
            for s in (body.srcs if fused else (body,)):
                parts.append((yield s))
            self.emit(("update", acc, op, r.dtype, width, parts))
        while len(self.scopes) > saved.index(home) + 1:
            self._close()
        for r, (acc, width) in zip(group, accs):
            result = (acc, width)
            if lane is not None:
                result = (self.fresh(), 1)
                self.emit(("hreduce", result[0], acc, op, r.dtype, width))
            home.defined[id(r)] = result
        self.scopes = saved
        return home.defined[id(n)]

    def _greduce(self, n: U) -> Emit:
        """Every work-item of the group reaches this at once (no early return, uniform loops):
        the tree's barriers need them all."""
        op, lane = n.arg
        home = self._home(n)
        part = yield n.srcs[0]
        name, buf = self.fresh(), self.fresh("lds")
        self.local_buffers.append((buf, n.dtype, lane.arg[1]))
        self._insert(home, [("greduce", name, part, op, n.dtype, lane.arg[0], lane.arg[1], buf)])
        home.defined[id(n)] = (name, 1)
        return name, 1

    # ---- stores and structure ------------------------------------------------------------
    def stores(self) -> None:
        if self.plan.group is not None:  # one work-item of the group stores the shared result
            self._open(set(), None, ("if", f"{self.plan.group.arg[0]} == 0"))
            self._stores()
            self._close()
        else:
            self._stores()

    def _stores(self) -> None:
        lane = self.scopes[-1].vector
        if lane is None:
            for s in self.plan.stores:
                dtype = self.plan.kernel.out_dtypes[s.slot]
                self.emit(("store", s.slot, self.value(s.index), self.value(s.value), 1, dtype))
            return
        for group in row_groups(self.plan.stores, lane, self.plan.kernel.out_dtypes):
            if len(group) > 1:
                self._scatter_rows(group, lane)
            else:
                self._store_lanes(group[0], lane)

    def _store_lanes(self, s, lane: U) -> None:
        """One store of a vector: at once where the lanes are adjacent, else lane by lane."""
        value = self._lane_wide(s.value, lane)
        dtype = self.plan.kernel.out_dtypes[s.slot]
        terms, offset = S.linear(s.index)
        if terms.get(lane) != 1:
            self.emit(("scatter", s.slot, self._lane_wide(s.index, lane), value, lane.arg[1], dtype))
            return
        base = S.from_linear({a: c for a, c in terms.items() if a is not lane}, offset)
        self.emit(("store", s.slot, self.value(base), value, lane.arg[1], dtype))

    def _scatter_rows(self, group: list, lane: U) -> None:
        """Stores whose lanes scatter but whose values are adjacent to each other (the unrolled
        columns of a tile stored along its lanes' rows): a short vector per lane, not one
        scalar per value and lane, which PoCL compiles in half the time."""
        values = [self._lane_wide(s.value, lane) for s in group]
        dtype = self.plan.kernel.out_dtypes[group[0].slot]
        self.emit(("scatter_rows", group[0].slot, self._lane_wide(group[0].index, lane), values, lane.arg[1], dtype))

    def _lane_wide(self, node: U, lane: U) -> Ref:
        ref = self.value(node)
        return self._broadcast(ref, node, lane.arg[1]) if ref[1] == 1 else ref

    def _broadcast(self, value, node: U, width: int):
        name = self.fresh()
        self.emit(("broadcast", name, node.dtype, width, value))
        return name, width

    def body(self, loops: list) -> None:
        """The loop axes, outermost first, around the stores; the vector lanes innermost."""
        lane = self.plan.lane
        if loops:
            axis = loops[0]
            if lane is not None and axis.var is lane.outer:
                self._lane_loop(axis, loops[1:])
                return
            self._open({axis.var}, None, ("for", axis.var.arg[0], 0, axis.size))
            self.body(loops[1:])
            self._close()
        elif lane is None:
            self.stores()
        elif not lane.ragged:
            self._vector_stores()
        else:
            full = lane.size // lane.width
            outer = _c_name(lane.outer)
            self._open(set(), None, ("if", f"{outer} < {full}"))
            self._vector_stores()
            self._close()
            self._open(set(), None, ("else",))
            self._scalar_tail(f"{lane.size} - {outer} * {lane.width}")
            self._close()

    def _vector_stores(self) -> None:
        lane = self.plan.lane
        self._open({lane.var}, lane.var)
        self.emit(("lanes", lane.var.arg[0], lane.width))
        self.stores()
        self._close()

    def _scalar_tail(self, stop) -> None:
        lane = self.plan.lane
        self._open({lane.var}, None, ("for", lane.var.arg[0], 0, stop))
        self.stores()
        self._close()

    def _lane_loop(self, axis, inner: list) -> None:
        """A loop over the vector blocks of an axis, then its ragged remainder lane by lane."""
        lane = self.plan.lane
        if inner:
            raise AssertionError("the loop holding vector lanes must be the innermost loop")
        full = lane.size // lane.width
        self._open({axis.var}, None, ("for", axis.var.arg[0], 0, full))
        self._vector_stores()
        self._close()
        if lane.ragged:
            self._open({axis.var}, None)
            self.emit(("const", axis.var.arg[0], full))
            self._scalar_tail(lane.size - full * lane.width)
            self._close()


ROW_WIDTHS = (16, 8, 4, 2)  # the vector stores a row of adjacent values may take
# the element types the renderer stores as plain vectors (a bool is stored through a mask
# conversion, a 16-bit float through vstore_half): the ones a row may hold
ROW_DTYPES = (float32, int32)


def row_groups(stores: list, lane: U, out_dtypes: list[DType]) -> list[list]:
    """`stores` in order, cut into runs that one short vector store per lane can write: stores
    into one buffer whose indices scatter the lanes (a lane step other than 1) and differ from
    each other by 1, 2, 3, ... (of a width in ROW_WIDTHS), of a type in ROW_DTYPES; every other
    store alone. Runs are of consecutive stores: a kernel with several outputs lists its
    unrolled copies output by output within each copy, so its rows stay scalar stores."""
    groups: list[list] = []
    run: list = []
    last = None  # the run's last store, and its index as (terms, offset)
    for s in stores:
        terms, offset = S.linear(s.index)
        joins = terms.get(lane, 0) not in (0, 1) and out_dtypes[s.slot] in ROW_DTYPES
        continues = (joins and last is not None and len(run) < ROW_WIDTHS[0] and s.slot == last[0].slot
                     and terms == last[1] and offset == last[2] + 1)
        if run and not continues:
            groups += _cut_row(run)
            run = []
        if joins:
            run.append(s)
            last = (s, terms, offset)
        else:
            groups.append([s])
    return groups + _cut_row(run)


def _cut_row(run: list) -> list[list]:
    """A run as groups of the widest widths that fit, then single stores."""
    groups = []
    while run:
        width = next((w for w in ROW_WIDTHS if w <= len(run)), 1)
        groups.append(run[:width])
        run = run[width:]
    return groups


def _c_name(var: U) -> str:
    """A variable's name, or the literal an axis of size 1 became."""
    return var.arg[0] if var.op == "var" else str(var.arg)


def _ndrange(plan: KernelPlan, lin: _Linearizer) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Map the global axes to at most three NDRange dimensions (the innermost is dimension 0
    unless the plan names another); a fourth and further are decoded from dimension 2."""
    axes = plan.global_axes
    ordered = list(reversed(axes))
    first = next((a for a in ordered if a is plan.first_axis), None)
    if first is not None:
        ordered.remove(first)
        ordered.insert(0, first)
    dims = [[a] for a in ordered[:2]] + ([ordered[2:]] if len(ordered) > 2 else [])
    global_size, local_size = [], []
    varies = [a for a in axes if a.var.op == "var" and a.var.arg[0] in plan.varying]
    for d, group in enumerate(dims):
        lin.root.vars.update(a.var for a in group)
        local = group[0].local if len(group) == 1 else 1
        size = math.prod(a.size for a in group)
        padded = -(-size // local) * local
        guarded = padded != size or (local > 1 and group[0] in varies)  # the same code at every length
        global_size.append(padded)
        local_size.append(local)
        if len(group) == 1:
            lin.emit(("gid", group[0].var.arg[0], d, None))
        else:
            stride = 1
            for a in group:
                lin.emit(("gid", a.var.arg[0], d, (stride, a.size)))
                stride *= a.size
        if guarded:
            lin.emit(("guard", d, size))
    if not global_size:
        global_size, local_size = [1], [1]
    # a size that varies is launched with its work-groups named: PoCL compiles a kernel again
    # for every local size, and picks its own for each global size when none is given
    has_local = any(a.local > 1 for a in axes) or bool(varies)
    return tuple(global_size), (tuple(local_size) if has_local else None)


def multiply_by_invariant_reciprocals(plan: KernelPlan) -> None:
    """x / d with d a reduction of this kernel invariant along a variable x varies on
    (softmax's row sum, layernorm's deviation) becomes x * (1 / d): one division per row
    instead of one per element, which a CPU's vector divider would make the bottleneck.
    PyTorch's softmax and layernorm do the same. A divisor that is not reduced here (x / 3,
    x / y read from memory) divides each element, as PyTorch's division does: a reciprocal
    rounds differently in a third of the elements."""
    deps = _dependencies(plan.roots)
    mapping = {}
    for n in postorder(plan.roots, lambda m: m.srcs):
        if n.op == "div" and n.dtype.is_floating_point and deps[id(n.srcs[1])] < deps[id(n.srcs[0])] \
                and _reduces(n.srcs[1]):
            a, d = n.srcs
            mapping[n] = u("mul", n.dtype, (a, u("recip", d.dtype, (d,))))
    if mapping:
        plan.substitute(mapping)


def _reduces(n: U) -> bool:
    """Is a reduction computed under `n`?"""
    return any(m.op == "reduce" for m in postorder([n], lambda m: m.srcs))


def linearize(plan: KernelPlan, name: str) -> Linearized:
    multiply_by_invariant_reciprocals(plan)
    lin = _Linearizer(plan)
    global_size, local_size = _ndrange(plan, lin)
    lin.body([a for a in plan.axes if a.kind == "loop"])
    k = plan.kernel
    slots = list(k.out_dtypes) + list(k.input_dtypes) + [p.dtype for p in plan.packs]
    args = [d for _, d in k.args]
    values = {n.dtype for n in postorder(plan.roots, lambda n: n.srcs)}
    return Linearized(name, _flatten(lin.root), global_size, local_size, slots, k.n_out, args,
                      plan.streaming, lin.local_buffers, frozenset(values.union(slots, args)))


def _flatten(scope: _Scope) -> list[tuple]:
    out: list[tuple] = []
    for item in scope.items:
        if isinstance(item, _Scope):
            out.append(item.header)
            out.extend(_flatten(item))
            out.append(("end",))
        else:
            out.append(item)
    return out
