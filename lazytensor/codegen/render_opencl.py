"""Print a linearised kernel as OpenCL C. Every decision was made before: this only prints."""
from __future__ import annotations

import math
import re

from ..ir.dtype import ALL as ALL_DTYPES, DType, bool_, float16, float64, value_range
from ..ir.ops import COMPARISONS, REGISTRY, check_op_table, reduce_identity
from .linearize import Linearized
from .uops import U

PRELUDE = """\
#define LT_MAXF(a,b) (((a) > (b) || isnan(a)) ? (a) : (b))
#define LT_MINF(a,b) (((a) < (b) || isnan(a)) ? (a) : (b))
#define LT_MAXI(a,b) ((a) > (b) ? (a) : (b))
#define LT_MINI(a,b) ((a) < (b) ? (a) : (b))
#define LT_FLOORDIV(a,b) ((b) == 0 ? 0 : ((a) / (b) - (((a) % (b) != 0) && (((a) < 0) != ((b) < 0)))))
#define LT_FMODI(a,b) ((b) == 0 ? 0 : (a) % (b))
#define LT_MOD(a,b) ((b) == 0 ? 0 : ((a) % (b) + ((((a) % (b)) != 0 && ((((a) % (b)) < 0) != ((b) < 0))) ? (b) : 0)))
static inline long lt_ipow(long a, long b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  long r = 1;
  while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
  return r;
}
/* PoCL's vector sin, cos and tan reduce every lane's argument the slow way once any lane is
   2^23 or more, and that reduction is wrong for small lanes (sin(1e-3) was 0.008 beside a lane
   of 1e10; scalar calls are right). So a vector call takes each lane below 2^16 from a call on
   the arguments clamped to +-2^16 (all taking the fast way), the others from the call on the
   arguments as they are. */
#define LT_TRIG_FAST 65536.0f
#define LT_VTRIG(f, x) select(f(x), f(fmin(fmax(x, -LT_TRIG_FAST), LT_TRIG_FAST)), fabs(x) < LT_TRIG_FAST)
/* PoCL's float tanh (scalar and vector) never reaches 1: it gives +-0.99999994 from |x| = 9 up to
   infinity, where float32 rounds tanh to +-1 from |x| = 9.010913 (so gelu's 1 + tanh(x) was 6e-8,
   not 0, for any large negative x). Past that point the result is sign(x); NaN stays NaN. */
#define LT_TANH_ONE 9.010913f
#define LT_TANH(x) select(tanh(x), sign(x), fabs(x) >= LT_TANH_ONE)
static inline float lt_bf16_load(ushort b) { return as_float((uint)b << 16); }
static inline ushort lt_bf16_store(float f) {  /* round to nearest even; NaN stays NaN */
  uint u = as_uint(f);
  return isnan(f) ? (ushort)((u >> 16) | 0x40u) : (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
"""
FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"

# The C type that holds each element type in a buffer: bool as uchar, float16 as half (which
# OpenCL C reads and writes only through vload_half and vstore_half), bfloat16 as the top
# half of a float's bits.
STORAGE_TYPES = {"bool": "uchar", "uint8": "uchar", "int8": "char", "int16": "short", "int32": "int", "uint32": "uint",
                 "int64": "long",
                 "float16": "half", "bfloat16": "ushort", "float32": "float", "float64": "double"}

# How one element is read from ({b}[{i}]) and written to a buffer, where a plain subscript
# does not do: types that kernels compute in another type.
SCALAR_READS = {"float16": "vload_half({i}, {b})", "bfloat16": "lt_bf16_load({b}[{i}])", "bool": "(bool){b}[{i}]"}
SCALAR_WRITES = {"float16": "vstore_half({v}, {i}, {b});", "bfloat16": "{b}[{i}] = lt_bf16_store({v});"}


def _check_covers_dtypes(table_name: str, table) -> None:
    """A dtype without a C spelling is an error when the renderer is imported, not a KeyError
    in the middle of printing a kernel."""
    if missing := sorted({d.name for d in ALL_DTYPES} - set(table)):
        raise TypeError(f"OpenCL renderer (codegen/render_opencl.py): {table_name} has no entry for "
                        f"{', '.join(missing)}")


_check_covers_dtypes("STORAGE_TYPES", STORAGE_TYPES)


def ctype(dtype: DType, width: int = 1) -> str:
    """The C type a value of `dtype` has inside a kernel; a vector of bool is an int mask."""
    if width == 1:
        return "bool" if dtype == bool_ else storage_type(dtype)
    return f"{'int' if dtype == bool_ else storage_type(dtype)}{width}"


def storage_type(dtype: DType) -> str:
    return STORAGE_TYPES[dtype.name]


def _float_or_int(float_form: str, int_form: str):
    return lambda dt, *a: (float_form if dt.is_floating_point else int_form).format(*a)


OPS = {
    "neg": "(-{0})", "exp": "exp({0})", "log": "log({0})", "sqrt": "sqrt({0})",
    "sin": "sin({0})", "cos": "cos({0})", "tan": "tan({0})",
    "tanh": lambda dt, a: f"tanh({a})" if dt.name == "float64" else f"LT_TANH({a})",
    "recip": "(1/{0})",
    "sign": "(sign({0}) + 0)",  # + 0: C's sign keeps -0.0, PyTorch's gives +0.0
    "floor": "floor({0})", "ceil": "ceil({0})", "rint": "rint({0})",
    "trunc": "trunc({0})", "log1p": "log1p({0})", "expm1": "expm1({0})",
    "asin": "asin({0})", "acos": "acos({0})", "atan": "atan({0})", "atan2": "atan2({0}, {1})",
    "copysign": "copysign({0}, {1})",
    "sigmoid": "(1 / (1 + exp(-{0})))",
    "sinh": "sinh({0})", "cosh": "cosh({0})", "asinh": "asinh({0})", "acosh": "acosh({0})", "atanh": "atanh({0})",
    "not": "(!{0})", "bitnot": "(~{0})",
    "abs": _float_or_int("fabs({0})", "({0} < 0 ? -{0} : {0})"),
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "idiv": "LT_FLOORDIV({0}, {1})",
    "mod": "LT_MOD({0}, {1})",
    "fmod": _float_or_int("fmod({0}, {1})", "LT_FMODI({0}, {1})"),
    "max": _float_or_int("LT_MAXF({0}, {1})", "LT_MAXI({0}, {1})"),
    "min": _float_or_int("LT_MINF({0}, {1})", "LT_MINI({0}, {1})"),
    "pow": lambda dt, a, b: f"pow({a}, {b})" if dt.is_floating_point else f"(({storage_type(dt)})lt_ipow({a}, {b}))",
    "lt": "({0} < {1})", "le": "({0} <= {1})", "eq": "({0} == {1})", "ne": "({0} != {1})",
    "and": "({0} & {1})", "or": "({0} | {1})", "xor": "({0} ^ {1})",
    "shl": "({0} << ({1} & 31))", "shr": "({0} >> ({1} & 31))",
    "where": "({0} ? {1} : {2})",
}


# The ops whose vector form is spelt otherwise than their scalar one (see LT_VTRIG above)
VECTOR_OPS = {"sin": "LT_VTRIG(sin, {0})", "cos": "LT_VTRIG(cos, {0})", "tan": "LT_VTRIG(tan, {0})"}


def _template_arity(name: str) -> int | None:
    template = OPS[name]
    return None if callable(template) else len(set(re.findall(r"\{(\d)\}", template)))


check_op_table("OpenCL renderer (codegen/render_opencl.py)", OPS, (name for name in REGISTRY if name != "cast"),
               _template_arity)


# How C spells each type's lowest and highest values (ir/dtype.value_range), where the
# accumulators of max and min start.
_C_EXTREMES = {"bool": ("0", "1"), "uint8": ("0", "UCHAR_MAX"), "int8": ("CHAR_MIN", "CHAR_MAX"),
               "int16": ("SHRT_MIN", "SHRT_MAX"), "int32": ("INT_MIN", "INT_MAX"),
               "uint32": ("0", "UINT_MAX"), "int64": ("LONG_MIN", "LONG_MAX"),
               **dict.fromkeys(("float16", "bfloat16", "float32", "float64"), ("-INFINITY", "INFINITY"))}
_check_covers_dtypes("_C_EXTREMES", _C_EXTREMES)


def reduce_init(op: str, dtype: DType) -> str:
    """An accumulator's first value, as C: the reduction's identity."""
    value = reduce_identity(op, dtype)
    spelled = dict(zip(value_range(dtype), _C_EXTREMES[dtype.name]))
    return spelled[value] if value in spelled else str(int(value))


# A vector of bool is a -1/0 mask, whose order is the reverse of bool's: the lanes' any (max)
# is the masks' min, their all (min) the masks' max, starting from false (0) and true (-1).
_MASK_OPS = {"max": ("min", "0"), "min": ("max", "-1")}


def _on_lanes(op: str, dtype: DType, width: int) -> tuple[str, str | None]:
    """The reduction op that combines `width` lanes of `dtype`, and its first value where it is
    not reduce_init's (None): a max or min of bool vectors works on their masks."""
    if dtype == bool_ and width > 1 and op in _MASK_OPS:
        return _MASK_OPS[op]
    return op, None


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



def _ref(name) -> str:
    return literal(name[1].arg, name[1].dtype) if isinstance(name, tuple) else name


def _widen(ref, dtype: DType, width: int) -> str:
    """A scalar operand of a vector operation, as that vector (a bool becomes a -1/0 mask)."""
    text, w = _ref(ref[0]), ref[1]
    if w == width or width == 1:
        return text
    if dtype == bool_:
        return f"(({ctype(dtype, width)})(-(int)({text})))"
    return f"(({ctype(dtype, width)})({text}))"


def _cast(dtype: DType, src_dtype: DType, text: str, width: int) -> str:
    if width == 1:
        return f"({ctype(dtype)})({text})"
    if src_dtype == bool_:  # a mask is -1/0
        return f"convert_{ctype(dtype, width)}(-({text}))" if dtype != bool_ else text
    if dtype == bool_:
        return f"({text} != ({ctype(src_dtype, width)})(0))"
    return f"convert_{ctype(dtype, width)}({text})"


def _expression(node: U, width: int, srcs) -> str:
    if node.op == "cast":
        return _cast(node.dtype, node.srcs[0].dtype, _widen(srcs[0], node.srcs[0].dtype, width), width)
    args = [_widen(r, s.dtype, width) for r, s in zip(srcs, node.srcs)]
    if node.op in ("idiv", "mod") and node.srcs[0].bounds[0] >= 0 and node.srcs[1].op == "lit":
        return f"({args[0]} {'/' if node.op == 'idiv' else '%'} {args[1]})"  # C's division is floor here
    template = VECTOR_OPS.get(node.op, OPS[node.op]) if width > 1 else OPS[node.op]
    dtype = node.srcs[-1].dtype if node.op in COMPARISONS else node.dtype
    return template(dtype, *args) if callable(template) else template.format(*args)


class _Printer:
    def __init__(self, lin: Linearized):
        self.lin = lin
        self.lines: list[str] = []
        self.indent = 1

    def line(self, text: str) -> None:
        self.lines.append("  " * self.indent + text)

    def buffer(self, slot: int) -> str:
        return f"b{slot}"

    def _read(self, slot: int, index: str, width: int, form: str) -> str:
        stored = self.lin.slot_dtypes[slot]
        b = self.buffer(slot)
        if form == "vector":
            if stored == float16:
                return f"vload_half{width}(0, {b} + {index})"
            if stored == bool_:
                return f"(convert_int{width}(vload{width}(0, {b} + {index})) != 0)"
            return f"vload{width}(0, {b} + {index})"
        return SCALAR_READS.get(stored.name, "{b}[{i}]").format(b=b, i=index)

    def load(self, name: str, node: U, width: int, form: str, parts) -> None:
        if form == "bordered":
            self._bordered_load(name, node, width, parts)
            return
        (index, _), valid = parts
        index = _ref(index)
        ty = ctype(node.dtype, width)
        if form == "gather":
            self.line(f"{ty} {name} = {self._gathered(node, width, parts[0], valid)};")
            return
        read = self._read(node.arg, index, width, form)
        if valid is not None:
            read = f"({_ref(valid[0])} ? {read} : ({ty})(0))"
        self.line(f"{ty} {name} = {read};")

    def _gathered(self, node: U, width: int, index, valid) -> str:
        """A vector read lane by lane, each lane where its own validity holds (else 0)."""
        lanes = []
        for k in range(width):
            at = f"{_ref(index[0])}.s{k:x}" if index[1] > 1 else _ref(index[0])
            read = self._read_scalar(node, at)
            if valid is not None:
                cond = f"{_ref(valid[0])}.s{k:x}" if valid[1] > 1 else _ref(valid[0])
                read = f"({cond} ? {read} : 0)"
            # a vector of bool is a -1/0 mask: a 1 lane would read as false in a vector select
            lanes.append(f"-({read})" if node.dtype == bool_ else read)
        return f"({ctype(node.dtype, width)})({', '.join(lanes)})"

    def _bordered_load(self, name: str, node: U, width: int, parts) -> None:
        """Contiguous lanes valid on one run (a padded border): a vector load where the first and
        last lanes are valid (so all are, and every address is inside the buffer), else lane by
        lane, as near a border."""
        index, valid, base = parts
        mask = _ref(valid[0])
        last = f".s{width - 1:x}"
        self.line(f"{ctype(node.dtype, width)} {name};")
        self.line(f"if ({mask}.s0 && {mask}{last}) {name} = {self._read(node.arg, _ref(base[0]), width, 'vector')};")
        self.line(f"else {name} = {self._gathered(node, width, index, valid)};")

    def _read_scalar(self, node: U, index: str) -> str:
        text = self._read(node.arg, index, 1, "scalar")
        return f"({ctype(node.dtype)})({text})" if self.lin.slot_dtypes[node.arg] == bool_ else text

    def store(self, slot: int, base, value, width: int, dtype: DType) -> None:
        b, base, value = self.buffer(slot), _ref(base[0]), _ref(value[0])
        if width == 1:
            plain = f"{{b}}[{{i}}] = ({storage_type(dtype)})({{v}});"
            self.line(SCALAR_WRITES.get(dtype.name, plain).format(b=b, i=base, v=value))
        elif dtype == float16:
            self.line(f"vstore_half{width}({value}, 0, {b} + {base});")
        elif dtype == bool_:
            self.line(f"vstore{width}(convert_uchar{width}(-({value})), 0, {b} + {base});")
        elif self.lin.streaming and dtype.itemsize == 4:
            self.line(f"__builtin_nontemporal_store({value}, (__global {ctype(dtype, width)}*)({b} + {base}));")
        else:
            self.line(f"vstore{width}({value}, 0, {b} + {base});")

    def update(self, acc: str, op: str, dtype: DType, width: int, parts) -> None:
        if len(parts) == 2:
            a, b = (_widen(p, dtype, width) for p in parts)
            self.line(f"{acc} = fma({a}, {b}, {acc});")
            return
        x = _widen(parts[0], dtype, width)
        self.line(f"{acc} = {reduce_combine(_on_lanes(op, dtype, width)[0], dtype, acc, x)};")

    def hreduce(self, name: str, acc: str, op: str, dtype: DType, width: int) -> None:
        """Halve the vector until one lane is left: a pairwise tree, for accuracy."""
        current = acc
        lanes_op = _on_lanes(op, dtype, width)[0]  # the halves are vectors: masks, for bool
        while width > 1:
            width //= 2
            half = f"{name}_{width}" if width > 1 else name
            self.line(f"{ctype(dtype, width)} {half} = "
                      f"{reduce_combine(lanes_op, dtype, current + '.lo', current + '.hi')};")
            current = half

    def print(self) -> str:
        for stmt in self.lin.statements:
            getattr(self, "s_" + stmt[0])(*stmt[1:])
        return "\n".join(self.lines)

    # one method per statement kind
    def s_root(self) -> None:
        pass

    def s_gid(self, name: str, dim: int, decode) -> None:
        gid = f"(int)get_global_id({dim})"
        self.line(f"const int {name} = {gid if decode is None else f'({gid} / {decode[0]}) % {decode[1]}'};")

    def s_guard(self, dim: int, size: int) -> None:
        self.line(f"if (get_global_id({dim}) >= {size}) return;")

    def s_lanes(self, name: str, width: int) -> None:
        self.line(f"const int{width} {name} = (int{width})({', '.join(map(str, range(width)))});")

    def s_const(self, name: str, value) -> None:
        self.line(f"const int {name} = {value};")

    def s_def(self, name: str, node: U, width: int, srcs) -> None:
        self.line(f"{ctype(node.dtype, width)} {name} = {_expression(node, width, srcs)};")

    def s_broadcast(self, name: str, dtype: DType, width: int, src) -> None:
        self.line(f"{ctype(dtype, width)} {name} = {_widen(src, dtype, width)};")

    def s_load(self, name, node, width, form, parts) -> None:
        self.load(name, node, width, form, parts)

    def s_acc(self, name: str, op: str, dtype: DType, width: int) -> None:
        first = _on_lanes(op, dtype, width)[1] or reduce_init(op, dtype)
        self.line(f"{ctype(dtype, width)} {name} = ({ctype(dtype, width)})({first});")

    def s_update(self, acc, op, dtype, width, parts) -> None:
        self.update(acc, op, dtype, width, parts)

    def s_hreduce(self, name, acc, op, dtype, width) -> None:
        self.hreduce(name, acc, op, dtype, width)

    def s_greduce(self, name, part, op, dtype, lane, size, buf) -> None:
        combine = reduce_combine(op, dtype, f"{buf}[{lane}]", f"{buf}[{lane} + lt_s]")
        self.line(f"{buf}[{lane}] = {_ref(part[0])};")
        self.line("barrier(CLK_LOCAL_MEM_FENCE);")
        self.line(f"for (int lt_s = {size // 2}; lt_s > 0; lt_s >>= 1) {{")
        self.line(f"  if ({lane} < lt_s) {buf}[{lane}] = {combine};")
        self.line("  barrier(CLK_LOCAL_MEM_FENCE);")
        self.line("}")
        self.line(f"{ctype(dtype)} {name} = {buf}[0];")
        self.line("barrier(CLK_LOCAL_MEM_FENCE);  /* buf is reused by the next pass */")

    def s_scatter(self, slot, index, value, width, dtype) -> None:
        for k in range(width):
            lane = f"{_ref(value[0])}.s{k:x}"
            if dtype == bool_:  # a vector of bool is a -1/0 mask
                lane = f"({lane} != 0)"
            self.store(slot, (f"{_ref(index[0])}.s{k:x}", 1), (lane, 1), 1, dtype)

    def s_scatter_rows(self, slot, index, values, width, dtype) -> None:
        b, index, row = self.buffer(slot), _ref(index[0]), len(values)
        for k in range(width):
            lanes = ", ".join(f"{_ref(v[0])}.s{k:x}" for v in values)
            self.line(f"vstore{row}(({ctype(dtype, row)})({lanes}), 0, {b} + {index}.s{k:x});")

    def s_store(self, slot, base, value, width, dtype) -> None:
        self.store(slot, base, value, width, dtype)

    def s_for(self, var: str, start, stop) -> None:
        self.line(f"for (int {var} = {start}; {var} < {stop}; {var}++) {{")
        self.indent += 1

    def s_if(self, cond: str) -> None:
        self.line(f"if ({cond}) {{")
        self.indent += 1

    def s_else(self) -> None:
        self.line("else {")
        self.indent += 1

    def s_block(self) -> None:
        self.line("{")
        self.indent += 1

    def s_end(self) -> None:
        self.indent -= 1
        self.line("}")


def render_linearized(lin: Linearized) -> str:
    """OpenCL C source of one linearised kernel."""
    params = []
    for slot, dtype in enumerate(lin.slot_dtypes):
        const = "" if slot < lin.n_out else "const "
        params.append(f"__global {const}{storage_type(dtype)}* restrict b{slot}")
    params += [f"const {ctype(d)} a{i}" for i, d in enumerate(lin.arg_dtypes)]
    body = _Printer(lin).print()
    locals_ = "".join(f"  __local {ctype(dtype)} {name}[{size}];\n" for name, dtype, size in lin.local_buffers)
    body = locals_ + body
    # the kernel says which extension its types need, so a program of kernels needs nothing more
    extension = FP64_PRAGMA if float64 in lin.dtypes else ""
    return f"{extension}__kernel void {lin.name}({', '.join(params)}) {{\n{body}\n}}\n"


def program_source(kernel_sources: list[str]) -> str:
    return PRELUDE + "\n".join(kernel_sources)
