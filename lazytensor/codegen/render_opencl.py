"""Render a lowered kernel as OpenCL C: one work-item per output element."""
from __future__ import annotations

import math

from ..ir.dtype import DType, bool_, float16
from .lower import LoweredKernel, contiguous_strides
from .render_common import kernel_name, toposort, var_dependencies
from .uops import U

PRELUDE = """\
#define LT_MAXF(a,b) (((a) > (b) || isnan(a)) ? (a) : (b))
#define LT_MINF(a,b) (((a) < (b) || isnan(a)) ? (a) : (b))
#define LT_MAXI(a,b) ((a) > (b) ? (a) : (b))
#define LT_MINI(a,b) ((a) < (b) ? (a) : (b))
#define LT_FLOORDIV(a,b) ((b) == 0 ? 0 : ((a) / (b) - (((a) % (b) != 0) && (((a) < 0) != ((b) < 0)))))
#define LT_MOD(a,b) ((b) == 0 ? 0 : ((a) % (b) + ((((a) % (b)) != 0 && ((((a) % (b)) < 0) != ((b) < 0))) ? (b) : 0)))
static inline long lt_ipow(long a, long b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  long r = 1;
  while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
  return r;
}
"""
FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"


def ctype(dtype: DType) -> str:
    """The C type a value of `dtype` has inside a kernel."""
    return "bool" if dtype == bool_ else dtype.cl


def storage_type(dtype: DType) -> str:
    return dtype.cl  # bool is stored as uchar, half as half (read with vload_half)


def _float_or_int(float_form: str, int_form: str):
    return lambda dt, *a: (float_form if dt.is_floating_point else int_form).format(*a)


OPS = {
    "neg": "(-{0})", "exp": "exp({0})", "log": "log({0})", "sqrt": "sqrt({0})",
    "sin": "sin({0})", "cos": "cos({0})", "tan": "tan({0})", "tanh": "tanh({0})",
    "recip": "(1/{0})", "floor": "floor({0})", "ceil": "ceil({0})", "rint": "rint({0})",
    "trunc": "trunc({0})", "log1p": "log1p({0})", "expm1": "expm1({0})",
    "not": "(!{0})", "bitnot": "(~{0})",
    "abs": _float_or_int("fabs({0})", "({0} < 0 ? -{0} : {0})"),
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "idiv": "LT_FLOORDIV({0}, {1})",
    "mod": "LT_MOD({0}, {1})",
    "max": _float_or_int("LT_MAXF({0}, {1})", "LT_MAXI({0}, {1})"),
    "min": _float_or_int("LT_MINF({0}, {1})", "LT_MINI({0}, {1})"),
    "pow": lambda dt, a, b: f"pow({a}, {b})" if dt.is_floating_point else f"(({dt.cl})lt_ipow({a}, {b}))",
    "lt": "({0} < {1})", "le": "({0} <= {1})", "eq": "({0} == {1})", "ne": "({0} != {1})",
    "and": "({0} & {1})", "or": "({0} | {1})", "xor": "({0} ^ {1})",
    "shl": "({0} << ({1} & 31))", "shr": "({0} >> ({1} & 31))",
    "where": "({0} ? {1} : {2})",
}

_INT_LIMITS = {"int": ("INT_MIN", "INT_MAX"), "long": ("LONG_MIN", "LONG_MAX"),
               "uint": ("0", "UINT_MAX"), "uchar": ("0", "UCHAR_MAX"), "bool": ("0", "1")}


def reduce_init(op: str, dtype: DType) -> str:
    if op == "sum":
        return "0"
    if op == "prod":
        return "1"
    if dtype.is_floating_point:
        return "-INFINITY" if op == "max" else "INFINITY"
    lo, hi = _INT_LIMITS[ctype(dtype)]
    return lo if op == "max" else hi


def reduce_combine(op: str, dtype: DType, acc: str, x: str) -> str:
    if op == "sum":
        return f"{acc} + {x}"
    if op == "prod":
        return f"{acc} * {x}"
    return OPS[op](dtype, acc, x)


def literal(value, dtype: DType) -> str:
    if dtype == bool_:
        return "1" if value else "0"
    if dtype.is_floating_point:
        if math.isnan(value):
            return "NAN"
        if math.isinf(value):
            return "INFINITY" if value > 0 else "-INFINITY"
        return repr(float(value)) + ("" if dtype.name == "float64" else "f")
    return str(int(value)) + ("L" if dtype.name == "int64" else "")


class _Emitter:
    def __init__(self, kernel: LoweredKernel):
        self.k = kernel
        self.lines: list[str] = []
        self.scopes: list[dict[int, str]] = [{}]
        self.in_scope: set = set(v for v in kernel.out_vars if v.op == "var")
        self.count = 0
        self.deps = var_dependencies(toposort(kernel.values))
        self.indent = 1

    def line(self, text: str) -> None:
        self.lines.append("  " * self.indent + text)

    def lookup(self, n: U) -> str | None:
        for scope in reversed(self.scopes):
            if id(n) in scope:
                return scope[id(n)]
        return None

    def fresh(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def emit(self, n: U) -> str:
        if n.op == "lit":
            return literal(n.arg, n.dtype)
        if n.op == "var":
            return n.arg[0]
        if n.op == "arg":
            return f"a{n.arg}"
        name = self.lookup(n)
        if name is not None:
            return name
        if n.op == "reduce":
            name = self._emit_reduce(n)
        else:
            name = self.fresh()
            self.line(f"{ctype(n.dtype)} {name} = {self._expression(n)};")
        self.scopes[-1][id(n)] = name
        return name

    def _expression(self, n: U) -> str:
        if n.op == "load":
            index, valid = (self.emit(s) for s in n.srcs)
            read = self._read(n.arg, index, n.dtype)
            return read if n.srcs[1].op == "lit" else f"({valid} ? {read} : 0)"
        if n.op == "cast":
            return f"({ctype(n.dtype)})({self.emit(n.srcs[0])})"
        srcs = [self.emit(s) for s in n.srcs]
        if n.op in ("idiv", "mod") and n.srcs[0].bounds[0] >= 0 and n.srcs[1].op == "lit":
            return f"({srcs[0]} {'/' if n.op == 'idiv' else '%'} {srcs[1]})"  # C's division is floor here
        template = OPS[n.op]
        dtype = n.srcs[-1].dtype if n.op in ("lt", "le", "eq", "ne") else n.dtype
        return template(dtype, *srcs) if callable(template) else template.format(*srcs)

    def _read(self, slot: int, index: str, dtype: DType) -> str:
        stored = self.k.input_dtype(slot)
        if stored == float16:
            return f"vload_half({index}, b{slot})"
        if stored == bool_:
            return f"(bool)b{slot}[{index}]"
        return f"b{slot}[{index}]"

    def _emit_reduce(self, n: U) -> str:
        op, rvars = n.arg
        (body,) = n.srcs
        for m in toposort([body]):  # hoist the loop-invariant work
            if m.op not in ("lit", "var", "arg") and self.deps[id(m)] <= self.in_scope:
                self.emit(m)
        acc = self.fresh()
        self.line(f"{ctype(n.dtype)} {acc} = {reduce_init(op, n.dtype)};")
        for v in rvars:
            self.line(f"for (int {v.arg[0]} = 0; {v.arg[0]} < {v.arg[1]}; {v.arg[0]}++) {{")
            self.indent += 1
        self.scopes.append({})
        self.in_scope |= set(rvars)
        x = self.emit(body)
        self.line(f"{acc} = {reduce_combine(op, n.dtype, acc, x)};")
        self.in_scope -= set(rvars)
        self.scopes.pop()
        for _ in rvars:
            self.indent -= 1
            self.line("}")
        return acc


def render(kernel: LoweredKernel, name: str | None = None) -> tuple[str, str]:
    """(kernel name, OpenCL C source) for one lowered kernel."""
    name = name or kernel_name(kernel)
    params = [f"__global {storage_type(d)}* restrict b{i}" for i, d in enumerate(kernel.out_dtypes)]
    params += [f"__global const {storage_type(d)}* restrict b{kernel.n_out + i}"
               for i, d in enumerate(kernel.input_dtypes)]
    params += [f"const {ctype(d)} a{i}" for i, (_, d) in enumerate(kernel.args)]
    em = _Emitter(kernel)
    em.line("const int gid = get_global_id(0);")
    for v, st, n in zip(kernel.out_vars, contiguous_strides(kernel.out_shape), kernel.out_shape):
        if v.op == "var":
            em.line(f"const int {v.arg[0]} = (gid / {st}) % {n};")
    for slot, (value, dtype) in enumerate(zip([em.emit(v) for v in kernel.values], kernel.out_dtypes)):
        if dtype == float16:
            em.line(f"vstore_half({value}, gid, b{slot});")
        else:
            em.line(f"b{slot}[gid] = ({storage_type(dtype)})({value});")
    body = "\n".join(em.lines)
    return name, f"__kernel void {name}({', '.join(params)}) {{\n{body}\n}}\n"


def program_source(kernel_sources: list[str], needs_fp64: bool) -> str:
    return (FP64_PRAGMA if needs_fp64 else "") + PRELUDE + "\n".join(kernel_sources)
