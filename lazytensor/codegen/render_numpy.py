"""Render a lowered kernel as vectorised NumPy code.

Every loop variable owns one axis of a broadcast space (output axes first, then
each reduction's axes), so the loop IR becomes whole-array expressions:
affine loads become strided views, other loads gathers, reductions ufunc
reduces over their axes, and a reduced product whose operands each have an
axis the other lacks (a matrix product) one np.matmul call (BLAS).

Speed comes from choices made here, at render time, from static facts about
each node: its axes (so its shape) and the dtype NumPy will give it.
  - An op whose result has a known shape writes into a scratch buffer (ufunc
    `out=`), reusing buffers whose values are dead, so a chain of ops needs a
    couple of arrays instead of one per op; an output is written straight into
    the kernel's output buffer.
  - A chain long enough to be memory-bound runs in blocks of rows that stay in
    cache (about BLOCK elements). What does not depend on the blocked axis
    (strided views, loop invariants, matrix products and what feeds them) is
    computed once, before the loop.
  - A node that computes another's values on other axes (an "echo": softmax
    reads exp(x - max) along the row for its sum and along the output for its
    quotient) is a transposed view of it, not a second computation; a cast
    that changes nothing NumPy holds (or takes a bool through a number and
    back) is a name.
None of these changes a value: they decide where a result goes and what is
computed once, never how an element is computed, so fused kernels equal
op-at-a-time evaluation bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..ir.dtype import bfloat16, bool_, float16
from ..ir.layout import inverse_permutation
from ..ir.semantics import ELEMENTWISE
from ..ir.traverse import postorder
from .lower import LoweredKernel
from .render_common import kernel_name, toposort, var_dependencies
from .uops import U, linear

BLOCK = 1 << 16  # elements per block: a few float32 temporaries of this size fit in L2
MIN_BLOCKED_OPS = 2  # blocking pays only when several passes over the data become one
_LEAVES = ("lit", "arg")  # inline text, never a statement
_FLOAT_UFUNCS = {"div": "true_divide", "idiv": "floor_divide", "mod": "remainder"}  # same values on floats
_REDUCE_UFUNCS = {"sum": "add", "prod": "multiply", "max": "maximum", "min": "minimum"}
_NEVER = float("inf")
# 16-bit floats compute in float32: how a load of each widens, and what stores its result
WIDENED_LOADS = {float16: "{}.astype(float32)", bfloat16: "bfloat16_values({})"}
STORE_FUNCTIONS = {bfloat16: "store_bfloat16"}


def op_name(op: str) -> str:
    return f"op_{op}"


@lru_cache(maxsize=None)
def result_dtype(op: str, dtypes: tuple[np.dtype, ...]) -> np.dtype:
    """The dtype NumPy gives `op` on operands of `dtypes`: probed on empty arrays, so it is
    exactly what the rendered call will produce (NumPy scalars promote like arrays)."""
    with np.errstate(all="ignore"):
        return np.asarray(ELEMENTWISE[op](*(np.empty(0, d) for d in dtypes))).dtype


def ufunc_text(op: str, dtypes: tuple[np.dtype, ...]) -> str | None:
    """The name of a ufunc computing `op` on these dtypes (it accepts out=), or None."""
    if isinstance(ELEMENTWISE.get(op), np.ufunc):
        return op_name(op)
    if op in _FLOAT_UFUNCS and all(d.kind == "f" for d in dtypes):
        return f"np.{_FLOAT_UFUNCS[op]}"
    return None


@dataclass(frozen=True)
class Contraction:
    """sum over k of left * right as one (batch, m, k) @ (batch, k, n) product; each
    field but the operands is a tuple of broadcast-space axes."""

    left: U
    right: U
    batch: tuple[int, ...]
    m: tuple[int, ...]
    k: tuple[int, ...]
    n: tuple[int, ...]

    @property
    def result_axes(self) -> tuple[int, ...]:
        return self.batch + self.m + self.n

    @property
    def in_layout_order(self) -> bool:
        """Whether the (batch, m, n) result is laid out like the broadcast space (no transpose)."""
        return list(self.result_axes) == sorted(self.result_axes)


class _Emitter:
    def __init__(self, kernel: LoweredKernel):
        self.k = kernel
        self.out_rank = len(kernel.out_vars)
        self.sizes = list(kernel.out_shape)
        self.axis: dict[U, int] = {v: i for i, v in enumerate(kernel.out_vars) if v.op == "var"}
        every = toposort(kernel.values)
        self.readers: dict[int, list[U]] = {}
        for n in every:
            for s in n.srcs:
                self.readers.setdefault(id(s), []).append(n)
        deps = var_dependencies(every)
        self._place_reduced_vars(every, deps)
        self.rank = len(self.sizes)
        self.axes = {id(n): frozenset(self.axis[v] for v in deps[id(n)]) for n in every}
        self.dt: dict[int, np.dtype] = {}
        for n in every:
            self.dt[id(n)] = self._runtime_dtype(n)
        self.contractions = {id(n): c for n in every if (c := self._contraction(n)) is not None}
        self.echoes = self._echoes(every)
        self.aliases = {id(n): source for n in every if (source := self._cast_source(n)) is not None}
        self.aliases.update({i: source for i, (source, _) in self.echoes.items()})
        order = postorder(kernel.values, self._deps)
        self.block_axis, self.rows = self._blocking(order)
        self.hoisted = self._hoisted(order, self.block_axis)
        # the emission order: the work before the block loop, then the loop's
        self.order = [n for n in order if not self.in_loop(n)] + [n for n in order if self.in_loop(n)]
        self.direct = self._direct_outputs()
        self.scratch, self.buffer_shapes = self._assign_buffers()

    def _place_reduced_vars(self, every: list[U], deps: dict[int, frozenset]) -> None:
        """Give each reduction variable an axis after the output's. Variables of one size
        that no node depends on together share one: a graph of many small reductions (a
        recurrent net's steps) would otherwise need an axis each, past NumPy's 64."""
        reduced = list(dict.fromkeys(v for n in every if n.op == "reduce" for v in n.arg[1]))
        together: dict[U, set[U]] = {v: set() for v in reduced}
        # the variables of one reduction are together too, though its body may lack one
        # (a max over an expanded axis): two of them on one axis would be one axis reduced
        reductions = {frozenset(n.arg[1]) for n in every if n.op == "reduce"}
        for found in {deps[id(n)] & frozenset(together) for n in every} | reductions:
            for v in found:
                together[v] |= found - {v}
        holders: dict[int, list[U]] = {}  # axis -> the variables placed on it
        for v in reduced:
            axis = next((a for a, vs in holders.items()
                         if self.sizes[a] == v.arg[1] and not together[v].intersection(vs)), None)
            if axis is None:
                axis = len(self.sizes)
                self.sizes.append(v.arg[1])
                holders[axis] = []
            holders[axis].append(v)
            self.axis[v] = axis

    # ---- static facts --------------------------------------------------------------------

    def _runtime_dtype(self, n: U) -> np.dtype:
        if n.op == "var":
            return np.dtype(np.int64)  # iota: index arithmetic runs in int64
        if n.op == "reduce":
            return self.dt[id(n.srcs[0])]  # reduces accumulate in their input's dtype
        if n.op in ELEMENTWISE and n.op != "cast":
            return result_dtype(n.op, tuple(self.dt[id(s)] for s in n.srcs))
        return np.dtype(n.dtype.np)  # lit, arg, load (float16 loads widen), cast

    def shape(self, n: U, blocked: bool = False) -> tuple[int, ...]:
        axes = self.axes[id(n)]
        shape = [self.sizes[a] if a in axes else 1 for a in range(self.rank)]
        if blocked and self.block_axis in axes:
            shape[self.block_axis] = self.rows
        return tuple(shape)

    def is_view(self, n: U) -> bool:
        """An affine, always-valid load: a strided view of its buffer, free to make."""
        return n.op == "load" and n.srcs[1].op == "lit" and bool(n.srcs[1].arg) and self.is_affine(n)

    def selected_by_own_mask(self, n: U) -> bool:
        """Is every reader of load n a where(valid, n, fill) on n's own validity (a pad)?"""
        readers = self.readers.get(id(n), [])
        if not readers or any(v is n for v in self.k.values):
            return False
        return all(r.op == "where" and r.srcs[0] is n.srcs[1] and r.srcs[1] is n
                                     and r.srcs[2] is not n for r in readers)

    @staticmethod
    def is_affine(n: U) -> bool:
        return n.op == "load" and all(a.op == "var" for a in linear(n.srcs[0])[0])

    def _cast_source(self, n: U) -> U | None:
        """The node a cast merely renames: its source when NumPy already holds that dtype,
        or the bool that went through a number and back (0/1 to False/True: relu's mask)."""
        if n.op != "cast":
            return None
        (src,) = n.srcs
        if self.dt[id(src)] == self.dt[id(n)]:
            return src
        if n.dtype == bool_ and src.op == "cast" and self.dt[id(src.srcs[0])] == np.bool_:
            return src.srcs[0]
        return None

    def _contraction(self, n: U) -> Contraction | None:
        """The matrix product hidden in sum(a * b) when a and b each have an axis the other
        lacks, every reduced axis is in both, and they share a BLAS-able dtype."""
        if n.op != "reduce" or n.arg[0] != "sum" or n.srcs[0].op != "mul":
            return None
        a, b = n.srcs[0].srcs
        if self.dt[id(a)] != self.dt[id(b)] or self.dt[id(a)].kind not in "fiu":
            return None
        ax_a, ax_b = self.axes[id(a)], self.axes[id(b)]
        red = frozenset(self.axis[v] for v in n.arg[1])
        if not red <= (ax_a & ax_b):
            return None
        only_a, only_b = tuple(sorted(ax_a - ax_b)), tuple(sorted(ax_b - ax_a))
        if not (only_a or only_b):
            return None  # batched dot products: multiply and reduce, no matrix to multiply
        batch, k = tuple(sorted((ax_a & ax_b) - red)), tuple(sorted(red))
        plain = Contraction(a, b, batch, only_a, k, only_b)
        swapped = Contraction(b, a, batch, only_b, k, only_a)
        return plain if plain.in_layout_order or not swapped.in_layout_order else swapped

    def _deps(self, n: U) -> tuple[U, ...]:
        """What must be computed before n (a view needs nothing; a product skips its mul;
        an echo needs only what it echoes)."""
        if n.op in _LEAVES or n.op == "var" or self.is_view(n):
            return ()
        if self.is_affine(n):  # a masked view: the index is strides, only the mask is computed
            return () if self.selected_by_own_mask(n) else (n.srcs[1],)
        if id(n) in self.aliases:
            return (self.aliases[id(n)],)
        c = self.contractions.get(id(n))
        return (c.left, c.right) if c else n.srcs

    def _is_work(self, n: U) -> bool:
        return n.op not in _LEAVES and n.op != "var" and not self.is_view(n) and id(n) not in self.aliases

    # ---- echoes: one value computed on other axes ------------------------------------------

    def _forms(self, every: list[U]) -> dict[int, tuple[int, tuple[U, ...]]]:
        """For each node, (class, free variables in order of appearance): two nodes of one
        class compute the same values once their free variables are matched in that order.
        Classes are interned, so each key is flat (its sources' classes, not their keys)."""
        classes: dict[tuple, int] = {}
        forms: dict[int, tuple[int, tuple[U, ...]]] = {}
        for n in every:
            if n.op == "var":
                key, free = ("var", n.arg[1]), (n,)
            else:
                local: list[U] = []
                for s in n.srcs:
                    local += [v for v in forms[id(s)][1] if v not in local]
                remaps = tuple(tuple(local.index(v) for v in forms[id(s)][1]) for s in n.srcs)
                arg, free = n.arg, tuple(local)
                if n.op == "reduce":
                    bound = n.arg[1]
                    arg = (n.arg[0], tuple((local.index(v) if v in local else -1, v.arg[1]) for v in bound))
                    free = tuple(v for v in local if v not in bound)
                key = (n.op, n.dtype, repr(arg), tuple(forms[id(s)][0] for s in n.srcs), remaps)
            forms[id(n)] = (classes.setdefault(key, len(classes)), free)
        return forms

    def _echoes(self, every: list[U]) -> dict[int, tuple[U, tuple[int, ...]]]:
        """node id -> (an earlier node with the same values on other axes, the transpose
        taking its array to this node's). Softmax reads exp(x - max) along the row for its
        sum and along the output axis for its quotient: computed once, then viewed."""
        forms = self._forms(every)
        block_var = next((v for v in self.k.out_vars if v.op == "var"), None)
        products = {id(n.srcs[0]) for n in every if id(n) in self.contractions}  # never materialised
        first: dict[int, U] = {}
        echoes: dict[int, tuple[U, tuple[int, ...]]] = {}
        for n in every:
            if n.op in _LEAVES or n.op == "var" or self.is_view(n) or id(n) in products:
                continue
            cls, free = forms[id(n)]
            source = first.setdefault(cls, n)
            pairs = dict(zip(forms[id(source)][1], free))
            keeps_block = pairs.get(block_var) is block_var or block_var not in (*pairs, *pairs.values())
            if source is not n and keeps_block:  # the block loop slices both alike
                echoes[id(n)] = (source, self._transpose(pairs))
        return echoes

    def _transpose(self, pairs: dict[U, U]) -> tuple[int, ...]:
        """The axes permutation taking an array over pairs' keys to one over their values."""
        target = {self.axis[b]: self.axis[a] for a, b in pairs.items()}
        rest = iter(a for a in range(self.rank) if a not in target.values())
        return tuple(target[j] if j in target else next(rest) for j in range(self.rank))

    # ---- blocking ------------------------------------------------------------------------

    def _blocking(self, order: list[U]) -> tuple[int | None, int]:
        """(axis, rows per block) to run the kernel in cache-sized blocks, or (None, 0).
        The first output axis of size > 1 is blocked (nothing reduces over an output axis);
        only when there are at least two blocks and a few ops per element to run in them."""
        axis = next((a for a in range(self.out_rank) if self.sizes[a] > 1), None)
        if axis is None:
            return None, 0
        hoisted = self._hoisted(order, axis)
        work = [n for n in order if id(n) not in hoisted and self._is_work(n)]
        if len(work) < MIN_BLOCKED_OPS:
            return None, 0
        row = max(math.prod(self.shape(n)) for n in work) // self.sizes[axis]
        rows = max(1, BLOCK // row)
        return (axis, rows) if 2 * rows <= self.sizes[axis] else (None, 0)

    def _hoisted(self, order: list[U], axis: int | None) -> set[int]:
        """Nodes computed once, before the block loop: those that do not vary along the
        blocked axis, views and the other loads without an index array (they read the
        whole range, not a block), matrix products, and everything they need."""
        if axis is None:
            return {id(n) for n in order}
        roots = [n for n in order
                 if axis not in self.axes[id(n)] or self.is_view(n) or id(n) in self.contractions
                 or (n.op == "load" and self.is_affine(n))]
        return {id(n) for n in postorder(roots, self._deps)}

    def in_loop(self, n: U) -> bool:
        return self.block_axis is not None and id(n) not in self.hoisted

    # ---- buffers -------------------------------------------------------------------------

    def full_out_shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[:self.out_rank]) + (1,) * (self.rank - self.out_rank)

    def _writes_out(self, n: U) -> bool:
        """Whether n's computation can write its result into a given array (out=); a reduce
        always makes an array, other ops make a scalar of scalar operands."""
        if not self._is_work(n):
            return False
        if n.op == "reduce":
            c = self.contractions.get(id(n))
            return c is None or c.in_layout_order
        if not self.axes[id(n)]:
            return False
        if n.op == "cast":
            return True
        if n.op == "where":
            cond, a, b = (self.dt[id(s)] for s in n.srcs)
            return cond == np.bool_ and a == b == self.dt[id(n)]
        return self._is_ufunc(n)

    def _is_ufunc(self, n: U) -> bool:
        """Elementwise through one ufunc: it may write over an input of its own shape, as
        element i of the result reads only element i of each input."""
        return n.op in ELEMENTWISE and ufunc_text(n.op, tuple(self.dt[id(s)] for s in n.srcs)) is not None

    def _direct_outputs(self) -> dict[int, int]:
        """node id -> output slot, for outputs computed straight into their output buffer."""
        direct: dict[int, int] = {}
        for slot, v in enumerate(self.k.values):
            if (id(v) not in direct and self._writes_out(v) and self.shape(v) == self.full_out_shape()
                    and self.dt[id(v)] == np.dtype(self.k.out_dtypes[slot].np)
                    and (id(v) not in self.contractions or not self.in_loop(v))):
                direct[id(v)] = slot
        return direct

    def _needs_scratch(self, n: U) -> bool:
        return (self._writes_out(n) and id(n) not in self.direct and id(n) not in self.contractions)

    def _last_uses(self) -> dict[int, float]:
        """Position in self.order of each node's last reader (never, for outputs and for
        values computed before the loop and read inside it)."""
        last: dict[int, float] = {}
        for i, n in enumerate(self.order):
            for s in self._deps(n):
                crosses = self.in_loop(n) and not self.in_loop(s)
                last[id(s)] = _NEVER if crosses else max(last.get(id(s), -1), i)
        for v in self.k.values:
            last[id(v)] = _NEVER
        return last

    def _assign_buffers(self) -> tuple[dict[int, int], list[tuple[tuple[int, ...], np.dtype]]]:
        """Give each out=-capable node a scratch buffer, reusing one whose values are dead
        (a ufunc's own inputs among them)."""
        last = self._last_uses()
        owner: dict[int, int] = {}  # node id -> buffer
        shapes: list[tuple[tuple[int, ...], np.dtype]] = []
        release: dict[int, float] = {}  # buffer -> position of its last reader
        free: dict[tuple, list[int]] = {}
        for i, n in enumerate(self.order):
            src = self.aliases.get(id(n))
            if src is not None and id(src) in owner:
                owner[id(n)] = b = owner[id(src)]
                release[b] = max(release[b], last.get(id(n), i))
            dying = [b for b, at in release.items() if at == i]
            in_place = self._is_ufunc(n) and not any(self._reads_echo(s) for s in n.srcs)
            if in_place:
                self._release(dying, release, free, shapes)
            if self._needs_scratch(n):
                key = (self.shape(n, blocked=self.in_loop(n)), self.dt[id(n)])
                b = free[key].pop() if free.get(key) else len(shapes)
                if b == len(shapes):
                    shapes.append(key)
                owner[id(n)] = b
                release[b] = last.get(id(n), i)
            if not in_place:
                self._release(dying, release, free, shapes)
        return owner, shapes

    def _reads_echo(self, n: U) -> bool:
        """Whether n names a transposed view of another node's buffer: writing over that
        buffer while reading n overlaps inexactly, which NumPy resolves with a hidden copy."""
        while id(n) in self.aliases:
            if id(n) in self.echoes:
                return True
            n = self.aliases[id(n)]
        return False

    @staticmethod
    def _release(buffers: list[int], release: dict, free: dict, shapes: list) -> None:
        for b in buffers:
            del release[b]
            free.setdefault(shapes[b], []).append(b)


class _Writer:
    """Turns the emitter's plan into source lines: declarations, the work before the
    block loop, then the loop (or, unblocked, everything in one straight line)."""

    def __init__(self, em: _Emitter):
        self.em = em
        self.names: dict[int, str] = {}
        self.count = 0

    def rows(self, prefix: str, text: str) -> str:
        """`text` indexed along the blocked axis."""
        return f"{prefix}[{':, ' * self.em.block_axis}{text}]"

    def ref(self, n: U, reader: U) -> str:
        """n's name as `reader` sees it: one block of it when read inside the loop."""
        name = self.names[id(n)]
        em = self.em
        if em.in_loop(reader) and not em.in_loop(n) and em.block_axis in em.axes[id(n)]:
            return self.rows(name, "lo:hi")
        return name

    def target(self, n: U) -> str | None:
        em = self.em
        if id(n) in em.direct:
            out = f"o{em.direct[id(n)]}"
            return self.rows(out, "lo:hi") if em.in_loop(n) else out
        if id(n) in em.scratch:
            buf = f"s{em.scratch[id(n)]}"
            return self.rows(buf, ":n") if em.in_loop(n) else buf
        return None

    def source(self, name: str) -> str:
        em, k = self.em, self.em.k
        head = [f"o{i} = bufs[{i}].reshape({em.full_out_shape()!r})" for i in range(k.n_out)]
        head += [f"s{b} = empty({shape!r}, '{dt.name}')" for b, (shape, dt) in enumerate(em.buffer_shapes)]
        before = [line for n in em.order if not em.in_loop(n) for line in self.statement(n)]
        inside = [line for n in em.order if em.in_loop(n) for line in self.statement(n)]
        before += self.stores(loop=False)
        body = [f"    {line}" for line in head + before]
        if em.block_axis is not None:
            size, rows = em.sizes[em.block_axis], em.rows
            body += [f"    for lo in range(0, {size}, {rows}):",
                     f"        hi = min(lo + {rows}, {size})",
                     "        n = hi - lo"]
            body += [f"        {line}" for line in inside + self.stores(loop=True)]
        return f"def {name}(bufs, args):\n" + "\n".join(body) + "\n"

    def stores(self, loop: bool) -> list[str]:
        """Copies into the outputs not computed in place there (casting, broadcasting)."""
        lines = []
        for slot, v in enumerate(self.em.k.values):
            if self.em.direct.get(id(v)) == slot or self.em.in_loop(v) != loop:
                continue
            dst = self.rows(f"o{slot}", "lo:hi") if loop else f"o{slot}"
            store = STORE_FUNCTIONS.get(self.em.k.out_dtypes[slot], "store")
            lines.append(f"{store}({dst}, {self.names[id(v)]})")
        return lines

    def statement(self, n: U) -> list[str]:
        """Lines computing n (none for leaves and aliases, which are only names)."""
        ex = _Expr(self)
        if n.op in _LEAVES:
            self.names[id(n)] = ex.leaf(n)
            return []
        if id(n) in self.em.echoes:
            source, perm = self.em.echoes[id(n)]
            name = self.names[id(n)] = f"t{self.count}"
            self.count += 1
            return [f"{name} = {self.ref(source, n)}.transpose({perm!r})"]
        if id(n) in self.em.aliases:
            self.names[id(n)] = self.ref(self.em.aliases[id(n)], n)
            return []
        text, extra = ex.compute(n, self.target(n))
        name = self.names[id(n)] = f"t{self.count}"
        self.count += 1
        return [f"{name} = {text}"] + [f"{name} = {e.replace('$', name)}" for e in extra]


class _Expr:
    """The right-hand side of one statement."""

    def __init__(self, writer: _Writer):
        self.w, self.em = writer, writer.em

    def leaf(self, n: U) -> str:
        if n.op == "arg":
            return f"args[{n.arg}]"
        value = n.arg if isinstance(n.arg, bool) or math.isfinite(n.arg) else str(n.arg)
        return f"{n.dtype.np.__name__}({value!r})"

    def compute(self, n: U, out: str | None) -> tuple[str, list[str]]:
        """(expression, follow-up expressions re-assigning the same name, `$` in them)."""
        out_kw = f", out={out}" if out else ""
        srcs = lambda: ", ".join(self.w.ref(s, n) for s in n.srcs)  # noqa: E731
        if n.op == "var":
            return self._iota(n), []
        if n.op == "load":
            return self._load(n), []
        if n.op == "cast":
            return f"cast({srcs()}, '{self.em.dt[id(n)].name}'{out_kw})", []
        if n.op == "reduce":
            c = self.em.contractions.get(id(n))
            return (self._matmul(n, c, out_kw), []) if c else self._reduce(n, out)
        if n.op == "where" and out:
            return f"where_into({srcs()}{out_kw})", []
        fn = ufunc_text(n.op, tuple(self.em.dt[id(s)] for s in n.srcs)) if out else op_name(n.op)
        return f"{fn}({srcs()}{out_kw})", []

    def _iota(self, n: U) -> str:
        a = self.em.axis[n]
        start, stop = ("lo", "hi") if self.em.in_loop(n) else (0, n.arg[1])
        return f"iota({start}, {stop}, {a}, {self.em.rank})"

    def _load(self, n: U) -> str:
        index, valid = n.srcs
        buf = f"bufs[{n.arg}]"
        widen = WIDENED_LOADS.get(self.em.k.input_dtype(n.arg), "{}")
        return widen.format(self._read(n, index, valid, buf))

    def _read(self, n: U, index: U, valid: U, buf: str) -> str:
        if self.em.is_affine(n):  # no index array: a view (masked where padding or a window leaves it)
            terms, offset = linear(index)
            dims = tuple((self.em.axis[a], a.arg[1], k) for a, k in terms.items())
            if self.em.is_view(n):
                return f"strided({buf}, {offset}, {dims!r}, {self.em.rank})"
            lo, hi = index.bounds
            if self.em.selected_by_own_mask(n):  # where(valid, load, fill) picks the valid lanes
                return f"padded_strided({buf}, {offset}, {dims!r}, {self.em.rank}, {lo}, {hi})"
            return f"masked_strided({buf}, {offset}, {dims!r}, {self.em.rank}, {self.w.ref(valid, n)}, {lo}, {hi})"
        return f"gather({buf}, {self.w.ref(index, n)}, {self.w.ref(valid, n)})"

    def _reduce(self, n: U, out: str | None) -> tuple[str, list[str]]:
        """A ufunc reduce over the axes the body has; an axis it lacks scales a sum,
        repeats a product's factor, and changes nothing for max and min."""
        op, rvars = n.arg
        body = n.srcs[0]
        x = self.w.ref(body, n)
        have = self.em.axes[id(body)]
        axes = tuple(sorted(self.em.axis[v] for v in rvars if self.em.axis[v] in have))
        lacking = [v for v in rvars if self.em.axis[v] not in have]
        dt = self.em.dt[id(body)]
        if op == "prod" and lacking:
            shape = list(self.em.shape(body, blocked=self.em.in_loop(n)))
            for v in lacking:
                shape[self.em.axis[v]] = v.arg[1]
            x, axes = f"broadcast_to({x}, {tuple(shape)!r})", tuple(sorted(self.em.axis[v] for v in rvars))
        dtype_kw = f", dtype='{dt.name}'" if op in ("sum", "prod") else ""
        out_kw = f", out={out}" if out else ""
        scale = math.prod(v.arg[1] for v in lacking) if op == "sum" else 1
        if not axes:
            return f"op_mul({x}, {dt.name}({scale}){out_kw})" if scale != 1 else f"cast({x}, '{dt.name}'{out_kw})", []
        text = f"np.{_REDUCE_UFUNCS[op]}.reduce({x}, axis={axes!r}, keepdims=True{dtype_kw}{out_kw})"
        if scale == 1:
            return text, []
        return text, [f"op_mul($, {dt.name}({scale}){out_kw})"]

    def _matmul(self, n: U, c: Contraction, out_kw: str) -> str:
        em = self.em
        size = lambda axes: math.prod(em.sizes[a] for a in axes)  # noqa: E731
        rest = lambda *groups: tuple(a for a in range(em.rank) if all(a not in g for g in groups))  # noqa: E731
        left = c.batch + c.m + c.k + rest(c.batch, c.m, c.k)
        right = c.batch + c.k + c.n + rest(c.batch, c.k, c.n)
        bmkn = (size(c.batch), size(c.m), size(c.k), size(c.n))
        result = c.result_axes + rest(c.result_axes)
        res_shape = tuple(em.sizes[a] for a in c.result_axes) + (1,) * (em.rank - len(c.result_axes))
        to_layout = inverse_permutation(result)
        return (f"matmul({self.w.ref(c.left, n)}, {self.w.ref(c.right, n)}, {left!r}, {right!r}, "
                f"{bmkn!r}, {res_shape!r}, {to_layout!r}{out_kw})")


def render(kernel: LoweredKernel, name: str | None = None) -> tuple[str, str]:
    """(kernel name, Python source defining `name(bufs, args)`)."""
    name = name or kernel_name(kernel)
    return name, _Writer(_Emitter(kernel)).source(name)
