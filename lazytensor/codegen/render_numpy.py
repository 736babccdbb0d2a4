"""Render a lowered kernel as vectorised NumPy code.

Every loop variable owns one axis of a broadcast space (output axes first, then
each reduction's axes), so the loop IR becomes whole-array expressions:
affine loads become strided views, other loads gathers, reductions sums over
their axes, and a reduced product becomes an einsum (BLAS for matmul).
"""
from __future__ import annotations

from ..ir.dtype import float16
from .lower import LoweredKernel
from .render_common import kernel_name, toposort
from .uops import U, linear

def op_name(op: str) -> str:
    return f"op_{op}"


class _Emitter:
    def __init__(self, kernel: LoweredKernel):
        self.k = kernel
        self.order = toposort(kernel.values)
        self.axis: dict[U, int] = {}
        for i, v in enumerate(kernel.out_vars):
            if v.op == "var":
                self.axis[v] = i
        self.rank = len(kernel.out_vars)
        for n in self.order:
            if n.op == "reduce":
                for v in n.arg[1]:
                    self.axis[v] = self.rank
                    self.rank += 1
        self.names: dict[int, str] = {}
        self.lines: list[str] = []

    def name(self, n: U) -> str:
        """The variable holding n, emitting it (and what it needs) on first use."""
        if id(n) not in self.names:
            text = self._expression(n)
            if n.op in ("lit", "arg"):
                self.names[id(n)] = text
            else:
                self.names[id(n)] = f"t{len(self.lines)}"
                self.lines.append(f"    t{len(self.lines)} = {text}")
        return self.names[id(n)]

    def run(self) -> list[str]:
        return [self.name(v) for v in self.k.values]

    def _expression(self, n: U) -> str:
        if n.op == "lit":
            return f"{n.dtype.np.__name__}({n.arg!r})" if n.arg == n.arg else "float32('nan')"
        if n.op == "arg":
            return f"args[{n.arg}]"
        if n.op == "var":
            return f"iota({n.arg[1]}, {self.axis[n]}, {self.rank})"
        if n.op == "load":
            return self._load(n)
        if n.op == "cast":
            return f"cast({self.name(n.srcs[0])}, {n.dtype.np.__name__})"
        if n.op == "reduce":
            return self._reduce(n)
        return f"{op_name(n.op)}({', '.join(self.name(s) for s in n.srcs)})"

    def _load(self, n: U) -> str:
        index, valid = n.srcs
        buf = f"bufs[{n.arg}]"
        up = ".astype(float32)" if self.k.input_dtype(n.arg) == float16 else ""
        terms, offset = linear(index)
        if valid.op == "lit" and valid.arg and all(a.op == "var" for a in terms):
            dims = tuple((self.axis[a], a.arg[1], k) for a, k in terms.items())
            return f"strided({buf}, {offset}, {dims!r}, {self.rank}){up}"
        return f"gather({buf}, {self.name(index)}, {self.name(valid)}){up}"

    def _reduce(self, n: U) -> str:
        op, rvars = n.arg
        axes = tuple(self.axis[v] for v in rvars)
        sizes = tuple(v.arg[1] for v in rvars)
        body = n.srcs[0]
        if op == "sum" and body.op == "mul":
            a, b = body.srcs
            return f"sum_product({self.name(a)}, {self.name(b)}, {axes!r}, {sizes!r}, {self.rank})"
        return f"reduce_{op}({self.name(body)}, {axes!r}, {sizes!r})"


def render(kernel: LoweredKernel, name: str | None = None) -> tuple[str, str]:
    """(kernel name, Python source defining `name(bufs, args)`)."""
    name = name or kernel_name(kernel)
    em = _Emitter(kernel)
    results = em.run()
    shape = tuple(kernel.out_shape)
    body = "\n".join(em.lines)
    stores = "".join(f"    store(bufs[{i}], {r}, {shape!r})\n" for i, r in enumerate(results))
    src = f"def {name}(bufs, args):\n{body}\n{stores}"
    return name, src
