"""Elementwise operations: promotion, broadcasting, math, comparison, logic, in-place forms."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .tensor import FUNCTIONS, Tensor, register

Scalar = (int, float, bool, np.number, np.bool_)


def describe(*xs: Any) -> str:
    parts = []
    for x in xs:
        parts.append(f"{tuple(x.shape)} {x.dtype.name}" if isinstance(x, Tensor) else f"scalar {x!r}")
    return ", ".join(parts)


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            raise RuntimeError(
                f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast: the size of "
                f"tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {i}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def common_device(op: str, *xs: Any) -> str:
    devices = {x.device.name for x in xs if isinstance(x, Tensor)}
    if len(devices) > 1:
        a, b = sorted(devices)[:2]
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at least two "
                           f"devices, {a} and {b}!")
    if devices:
        return devices.pop()
    from .creation import resolve_device
    return resolve_device(None)


def result_dtype(*xs: Any) -> D.DType:
    pairs = []
    for x in xs:
        if isinstance(x, Tensor):
            pairs.append((x.dtype, D.ZERO_DIM if x.ndim == 0 else D.DIM))
        else:
            pairs.append((D.scalar_dtype(x), D.SCALAR))
    return D.result_type(pairs)


def as_node(x: Any, dtype: D.DType, shape: tuple[int, ...], device: str) -> Node:
    """A Tensor or Python scalar as a node of `dtype`, broadcast to `shape`."""
    if isinstance(x, Tensor):
        n = x.node
        return B.broadcast_to(B.cast(n, dtype) if n.dtype != dtype else n, shape)
    return const(x, dtype, shape, device)


def prepare(op: str, *xs: Any, dtype: D.DType | None = None) -> tuple[list[Node], D.DType]:
    """Check devices and shapes, promote dtypes, broadcast: the operand nodes and their dtype."""
    for x in xs:
        if not isinstance(x, (Tensor,) + Scalar):
            raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (with {describe(*[t for t in xs if isinstance(t, Tensor)])})")
    device = common_device(op, *xs)
    shape = broadcast_shapes(op, *(x.shape for x in xs if isinstance(x, Tensor)))
    dtype = dtype or result_dtype(*xs)
    return [as_node(x, dtype, shape, device) for x in xs], dtype


def wrap(node: Node) -> Tensor:
    return Tensor._from_node(node)


def _float_type(dtype: D.DType) -> D.DType:
    return dtype if dtype.is_floating_point else D.float32


def _require(op: str, ok: Callable[[D.DType], bool], what: str, *xs) -> None:
    for x in xs:
        if isinstance(x, Tensor) and not ok(x.dtype):
            raise TypeError(f"{op}: expected {what} tensors, got {describe(*xs)}")


# ---- binary arithmetic --------------------------------------------------------------------

def binary(op: str, a, b, ir_op: str | None = None) -> Tensor:
    (na, nb), dt = prepare(op, a, b)
    return wrap(B.elementwise(ir_op or op, na, nb))


def add(a, b, alpha=1) -> Tensor:
    return binary("add", a, b if alpha == 1 else b * alpha)


def sub(a, b, alpha=1) -> Tensor:
    (na, nb), dt = prepare("sub", a, b)
    if dt == D.bool_:
        raise TypeError("sub: subtraction with two bool tensors is not supported; use logical_xor or ^")
    return wrap(B.elementwise("sub", na, nb)) if alpha == 1 else add(a, b, alpha=-alpha)


def mul(a, b) -> Tensor:
    (na, nb), dt = prepare("mul", a, b)
    if dt == D.bool_:
        return wrap(B.elementwise("and", na, nb))
    return wrap(B.elementwise("mul", na, nb))


def div(a, b, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        dt = result_dtype(a, b)
        q = div(a, b).trunc()
        return q if dt.is_floating_point else q.to(dt)
    (na, nb), dt = prepare("div", a, b, dtype=_float_type(result_dtype(a, b)))
    return wrap(B.elementwise("div", na, nb))


def floor_divide(a, b) -> Tensor:
    (na, nb), dt = prepare("floor_divide", a, b)
    if dt.is_floating_point:
        return wrap(B.elementwise("floor", B.elementwise("div", na, nb)))
    return wrap(B.elementwise("idiv", na, nb))


def remainder(a, b) -> Tensor:
    (na, nb), dt = prepare("remainder", a, b)
    if dt.is_floating_point:
        q = B.elementwise("floor", B.elementwise("div", na, nb))
        return wrap(B.elementwise("sub", na, B.elementwise("mul", q, nb)))
    return wrap(B.elementwise("mod", na, nb))


def fmod(a, b) -> Tensor:
    (na, nb), dt = prepare("fmod", a, b)
    q = B.elementwise("trunc", B.elementwise("div", na, nb)) if dt.is_floating_point else None
    if q is None:
        return wrap(B.elementwise("sub", na, B.elementwise("mul", B.elementwise("idiv", na, nb), nb)))
    return wrap(B.elementwise("sub", na, B.elementwise("mul", q, nb)))


def pow(a, b) -> Tensor:
    if isinstance(b, Scalar) and not isinstance(b, bool) and isinstance(a, Tensor):
        if b == 2:
            return a * a
        if b == 1:
            return a.clone()
        if b == 0.5 and a.dtype.is_floating_point:
            return a.sqrt()
    (na, nb), dt = prepare("pow", a, b)
    return wrap(B.elementwise("pow", na, nb))


def maximum(a, b) -> Tensor:
    return binary("maximum", a, b, "max")


def minimum(a, b) -> Tensor:
    return binary("minimum", a, b, "min")


def _bitwise(op: str, ir_op: str):
    def fn(a, b) -> Tensor:
        _require(op, lambda d: not d.is_floating_point, "integer or bool", a, b)
        return binary(op, a, b, ir_op)
    fn.__name__ = op
    return fn


bitwise_and = _bitwise("bitwise_and", "and")
bitwise_or = _bitwise("bitwise_or", "or")
bitwise_xor = _bitwise("bitwise_xor", "xor")


def bitwise_not(x: Tensor) -> Tensor:
    _require("bitwise_not", lambda d: not d.is_floating_point, "integer or bool", x)
    return wrap(B.elementwise("not" if x.dtype == D.bool_ else "bitnot", x.node))


def _comparison(op: str, ir_op: str, swap: bool = False):
    def fn(a, b) -> Tensor:
        (na, nb), _ = prepare(op, a, b)
        return wrap(B.elementwise(ir_op, nb, na) if swap else B.elementwise(ir_op, na, nb))
    fn.__name__ = op
    return fn


eq = _comparison("eq", "eq")
ne = _comparison("ne", "ne")
lt = _comparison("lt", "lt")
le = _comparison("le", "le")
gt = _comparison("gt", "lt", swap=True)
ge = _comparison("ge", "le", swap=True)


def _truth(x) -> Node:
    return (x != 0).node if isinstance(x, Tensor) and x.dtype != D.bool_ else x.node


def logical_and(a: Tensor, b: Tensor) -> Tensor:
    return (a != 0) & (b != 0) if a.dtype != D.bool_ or b.dtype != D.bool_ else a & b


def logical_or(a: Tensor, b: Tensor) -> Tensor:
    return (a != 0) | (b != 0)


def logical_xor(a: Tensor, b: Tensor) -> Tensor:
    return (a != 0) ^ (b != 0)


def logical_not(x: Tensor) -> Tensor:
    return wrap(B.elementwise("not", _truth(x)))


# ---- unary math -----------------------------------------------------------------------------

def unary(op: str, x: Tensor, ir_op: str | None = None, float_only: bool = True) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    node = x.node
    if float_only and not node.dtype.is_floating_point:
        node = B.cast(node, D.float32)
    return wrap(B.elementwise(ir_op or op, node))


def _unary_float(name: str, ir_op: str | None = None):
    def fn(x: Tensor) -> Tensor:
        return unary(name, x, ir_op)
    fn.__name__ = name
    return fn


exp = _unary_float("exp")
log = _unary_float("log")
sqrt = _unary_float("sqrt")
sin = _unary_float("sin")
cos = _unary_float("cos")
tan = _unary_float("tan")
tanh = _unary_float("tanh")
log1p = _unary_float("log1p")
expm1 = _unary_float("expm1")
reciprocal = _unary_float("reciprocal", "recip")

LN2 = math.log(2.0)


def exp2(x: Tensor) -> Tensor:
    return pow(2.0, x.float() if not x.dtype.is_floating_point else x)


def log2(x: Tensor) -> Tensor:
    return log(x) * (1 / LN2)


def log10(x: Tensor) -> Tensor:
    return log(x) * (1 / math.log(10.0))


def rsqrt(x: Tensor) -> Tensor:
    return sqrt(x).reciprocal()


def neg(x: Tensor) -> Tensor:
    if x.dtype == D.bool_:
        raise TypeError("neg: negation, the `-` operator, on a bool tensor is not supported; use ~ or logical_not()")
    return wrap(B.elementwise("neg", x.node))


def abs(x: Tensor) -> Tensor:
    return x.clone() if x.dtype == D.bool_ else wrap(B.elementwise("abs", x.node))


def square(x: Tensor) -> Tensor:
    return x * x


def sign(x: Tensor) -> Tensor:
    if x.dtype == D.bool_:
        return x.clone()
    return ((x > 0).to(x.dtype) - (x < 0).to(x.dtype))


def _rounding(name: str, ir_op: str):
    def fn(x: Tensor, decimals: int = 0) -> Tensor:
        if not x.dtype.is_floating_point:
            return x.clone()
        if decimals:
            scale = 10.0 ** decimals
            return wrap(B.elementwise(ir_op, (x * scale).node)) / scale
        return wrap(B.elementwise(ir_op, x.node))
    fn.__name__ = name
    return fn


floor = _rounding("floor", "floor")
ceil = _rounding("ceil", "ceil")
round = _rounding("round", "rint")
trunc = _rounding("trunc", "trunc")
fix = trunc


def sigmoid(x: Tensor) -> Tensor:
    return 1.0 / (1.0 + exp(-_float(x)))


def relu(x: Tensor) -> Tensor:
    # where, not maximum: the gradient at 0 is 0 (as PyTorch), and NaN passes through
    return where(x <= 0, 0, x) if x.dtype != D.bool_ else x.clone()


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x.float()


# Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): the same formula on every device.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: Tensor) -> Tensor:
    x = _float(x)
    ax = x.abs()
    t = 1.0 / (1.0 + _ERF_P * ax)
    poly = _ERF_A[4]
    for a in reversed(_ERF_A[:4]):
        poly = poly * t + a
    y = 1.0 - poly * t * exp(-ax * ax)
    return where(x < 0, -y, y)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    x = _float(x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def silu(x: Tensor) -> Tensor:
    return _float(x) * sigmoid(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    x = _float(x)
    scaled = x * beta
    return where(scaled > threshold, x, log1p(exp(scaled)) / beta)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    dt = result_dtype(x, *(v for v in (min, max) if v is not None))
    out = x.to(dt)
    # where, not maximum/minimum: at a bound the gradient passes to x (as PyTorch), NaN stays NaN
    if min is not None:
        out = where(out < min, min, out)
    if max is not None:
        out = where(out > max, max, out)
    return out


clip = clamp


def lerp(start: Tensor, end: Tensor, weight) -> Tensor:
    return start + weight * (end - start)


def where(condition: Tensor, input=None, other=None) -> Tensor:
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' must be a bool Tensor")
    dt = result_dtype(*(v for v in (input, other)))
    (nc, na, nb), _ = prepare("where", condition, input, other, dtype=dt)
    cond = B.cast(nc, D.bool_) if nc.dtype != D.bool_ else nc
    return wrap(B.elementwise("where", cond, na, nb))


def isnan(x: Tensor) -> Tensor:
    return x != x


def isinf(x: Tensor) -> Tensor:
    if not x.dtype.is_floating_point:
        return zeros_bool(x)
    return x.abs() == math.inf


def isfinite(x: Tensor) -> Tensor:
    return ~(isnan(x) | isinf(x))


def zeros_bool(x: Tensor) -> Tensor:
    return wrap(const(False, D.bool_, x.shape, x.device.name))


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    if not x.dtype.is_floating_point:
        return x.clone()
    info = np.finfo(x.dtype.np)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where(isnan(x), nan, x)
    out = where(out == math.inf, posinf, out)
    return where(out == -math.inf, neginf, out)


# ---- registration: methods, functions, operators, in-place forms -------------------------------

_PUBLIC = [add, sub, mul, div, floor_divide, remainder, fmod, pow, maximum, minimum, bitwise_and,
           bitwise_or, bitwise_xor, bitwise_not, eq, ne, lt, le, gt, ge, logical_and, logical_or,
           logical_xor, logical_not, exp, log, sqrt, sin, cos, tan, tanh, log1p, expm1, reciprocal,
           exp2, log2, log10, rsqrt, neg, abs, square, sign, floor, ceil, round, trunc, fix, sigmoid,
           relu, erf, gelu, silu, softplus, clamp, clip, lerp, where, isnan, isinf, isfinite, nan_to_num]
for _fn in _PUBLIC:
    register(_fn.__name__, function=True)(_fn)
for _alias, _fn in {"multiply": mul, "subtract": sub, "divide": div, "true_divide": div, "negative": neg,
                    "absolute": abs, "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le,
                    "not_equal": ne, "clip": clamp, "fix": trunc}.items():
    register(_alias, function=True)(_fn)
FUNCTIONS["abs"] = abs


def _reflected(fn):
    return lambda self, other: fn(other, self)


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__mod__": remainder, "__rmod__": _reflected(remainder), "__pow__": pow, "__rpow__": _reflected(pow),
    "__and__": bitwise_and, "__rand__": _reflected(bitwise_and), "__or__": bitwise_or,
    "__ror__": _reflected(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _reflected(bitwise_xor),
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__neg__": neg, "__invert__": bitwise_not, "__abs__": abs, "__pos__": lambda self: self,
}
for _name, _fn in _OPERATORS.items():
    setattr(Tensor, _name, _fn)
Tensor.where = lambda self, condition, other: where(condition, self, other)


def check_inplace_dtype(op: str, self: Tensor, result: Tensor) -> None:
    if result.dtype.category > self.dtype.category:
        raise RuntimeError(f"{op}: result type {result.dtype.name} can't be cast to the desired output "
                           f"type {self.dtype.name} (shape {tuple(self.shape)})")
    if tuple(result.shape) != tuple(self.shape) and broadcast_shapes(op, self.shape, result.shape) != tuple(self.shape):
        raise RuntimeError(f"{op}: output with shape {tuple(self.shape)} doesn't match the broadcast shape "
                           f"{tuple(result.shape)}")


def inplace(name: str, fn: Callable) -> Callable:
    """The `name_` form of an op: compute out of place, then write into self's storage."""
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        result = fn(self, *args, **kwargs)
        check_inplace_dtype(name + "_", self, result)
        return self._assign(result.node)
    method.__name__ = name + "_"
    return method


_INPLACE = {
    "add": add, "sub": sub, "mul": mul, "div": div, "floor_divide": floor_divide, "remainder": remainder,
    "pow": pow, "clamp": clamp, "clip": clamp, "neg": neg, "abs": abs, "exp": exp, "log": log,
    "sqrt": sqrt, "sigmoid": sigmoid, "relu": relu, "tanh": tanh, "floor": floor, "ceil": ceil,
    "round": round, "trunc": trunc, "sin": sin, "cos": cos, "reciprocal": reciprocal, "square": square,
    "lerp": lerp, "maximum": maximum, "minimum": minimum, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "logical_not": logical_not,
    "nan_to_num": nan_to_num, "sign": sign, "erf": erf, "rsqrt": rsqrt,
}
for _name, _fn in _INPLACE.items():
    setattr(Tensor, _name + "_", inplace(_name, _fn))
for _dunder, _name in {"__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
                       "__ifloordiv__": "floor_divide_", "__imod__": "remainder_", "__ipow__": "pow_",
                       "__iand__": "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_"}.items():
    setattr(Tensor, _dunder, getattr(Tensor, _name))
