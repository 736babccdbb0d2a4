"""Elementwise operations: promotion, broadcasting, math, comparison, logic, in-place forms."""
from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .creation import check_scalar_fits, resolve_device
from .autograd.function import differentiable
from .data_dependent import nonzero
from .tensor_base import TensorBase, wrap
from .type_info import finfo

if TYPE_CHECKING:
    from .tensor import Tensor

Scalar = (int, float, bool, np.number, np.bool_)


def describe(*xs: Any) -> str:
    parts = []
    for x in xs:
        parts.append(f"{tuple(x.shape)} {x.dtype.name}" if isinstance(x, TensorBase) else f"scalar {x!r}")
    return ", ".join(parts)


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    out: tuple[int, ...] = ()
    for shape in shapes:
        found = _broadcast_pair(out, shape)
        if found is None:
            raise _not_broadcastable(op, shapes)
        out = found
    return out


def _not_broadcastable(op: str, shapes: tuple[tuple[int, ...], ...]) -> RuntimeError:
    """The error for shapes that do not broadcast, naming the first dimension that clashes."""
    ndim = max(len(s) for s in shapes)
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            return RuntimeError(
                f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast: the size of "
                f"tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {i}")
    raise AssertionError(f"{op}: shapes {shapes} broadcast")


def _broadcast_pair(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape of two shapes, or None where they do not broadcast."""
    if len(a) != len(b):
        if len(a) < len(b):
            a = (1,) * (len(b) - len(a)) + tuple(a)
        else:
            b = (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for m, n in zip(a, b):
        if m == n or n == 1:
            out.append(m)
        elif m == 1:
            out.append(n)
        else:
            return None
    return tuple(out)


def common_device(op: str, *xs: Any) -> str:
    devices = {x._storage.node.device for x in xs if isinstance(x, TensorBase)}  # canonical names
    if len(devices) > 1:
        a, b = sorted(devices)[:2]
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at least two "
                           f"devices, {a} and {b}!")
    if devices:
        return devices.pop()
    return resolve_device(None)


def result_dtype(*xs: Any) -> D.DType:
    pairs = []
    for x in xs:
        if isinstance(x, TensorBase):
            pairs.append((x.dtype, D.ZERO_DIM if x.ndim == 0 else D.DIM))
        else:
            pairs.append((D.scalar_dtype(x), D.SCALAR))
    return D.result_type(pairs)


def as_node(x: Any, dtype: D.DType, shape: tuple[int, ...], device: str) -> Node:
    """A Tensor or Python scalar as a node of `dtype`, broadcast to `shape`."""
    if isinstance(x, TensorBase):
        n = x.node
        return B.broadcast_to(B.cast(n, dtype) if n.dtype != dtype else n, shape)
    return const(x, dtype, shape, device)


_PYTHON_NUMBERS = (int, float)


def prepare(op: str, *xs: Any, dtype: D.DType | None = None) -> tuple[list[Node], D.DType]:
    """Check devices and shapes, promote dtypes, broadcast: the operand nodes and their dtype."""
    if dtype is None and len(xs) == 2:
        return prepare_pair(op, *xs)
    return _promoted(op, xs, dtype)


def prepare_pair(op: str, a: Any, b: Any) -> tuple[list[Node], D.DType]:
    """`prepare` for two operands and the dtype they promote to: what the commonest ops ask,
    called directly. The commonest operands need nothing promoted: a float tensor with a
    Python number, or two tensors of one dtype and device, broadcast to one shape; those are
    answered here (each call on an op's path is a tenth of a microsecond), the rest by the
    general path."""
    if type(b) in _PYTHON_NUMBERS:
        if isinstance(a, TensorBase):
            n = a.node
            if n.dtype.is_floating_point:
                return [n, const(b, n.dtype, n.shape, n.device)], n.dtype
    elif type(a) in _PYTHON_NUMBERS:
        if isinstance(b, TensorBase):
            n = b.node
            if n.dtype.is_floating_point:
                return [const(a, n.dtype, n.shape, n.device), n], n.dtype
    elif isinstance(a, TensorBase) and isinstance(b, TensorBase):
        na, nb = a.node, b.node
        if na.dtype == nb.dtype and na.device == nb.device:
            if na.shape == nb.shape:
                return [na, nb], na.dtype
            shape = _broadcast_pair(na.shape, nb.shape)  # two tensors of one dtype: nothing to promote
            if shape is not None:
                return [B.broadcast_to(na, shape), B.broadcast_to(nb, shape)], na.dtype
    return _promoted(op, (a, b), None)


def _promoted(op: str, xs: tuple, dtype: D.DType | None) -> tuple[list[Node], D.DType]:
    """prepare's general case: any operands."""
    device, shape = _placed(op, xs)
    dtype = dtype or result_dtype(*xs)
    return [as_node(x, dtype, shape, device) for x in xs], dtype


_OPERAND_TYPES = (TensorBase,) + Scalar


def _placed(op: str, xs: tuple) -> tuple[str, tuple[int, ...]]:
    """The device and broadcast shape of an op's operands (Tensors and Python scalars), checked."""
    for x in xs:
        if not isinstance(x, _OPERAND_TYPES):
            raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (with {describe(*[t for t in xs if isinstance(t, TensorBase)])})")
    device = common_device(op, *xs)
    shapes = [x._shape() for x in xs if isinstance(x, TensorBase)]
    return device, shapes[0] if len(shapes) == 1 else broadcast_shapes(op, *shapes)


def _float_type(dtype: D.DType) -> D.DType:
    return dtype if dtype.is_floating_point else D.float32


def _require(op: str, ok: Callable[[D.DType], bool], what: str, *xs) -> None:
    for x in xs:
        if isinstance(x, TensorBase) and not ok(x.dtype):
            raise TypeError(f"{op}: expected {what} tensors, got {describe(*xs)}")


# ---- binary arithmetic --------------------------------------------------------------------

def binary(op: str, a, b, ir_op: str | None = None) -> Tensor:
    (na, nb), dt = prepare_pair(op, a, b)
    return wrap(B.binary(ir_op or op, na, nb))


def add(a, b, alpha=1) -> Tensor:
    return binary("add", a, b if alpha == 1 else b * alpha)


def sub(a, b, alpha=1) -> Tensor:
    (na, nb), dt = prepare("sub", a, b)
    if dt == D.bool_:
        raise TypeError("sub: subtraction with two bool tensors is not supported; use logical_xor or ^")
    return wrap(B.binary("sub", na, nb)) if alpha == 1 else add(a, b, alpha=-alpha)


def mul(a, b) -> Tensor:
    (na, nb), dt = prepare("mul", a, b)
    if dt == D.bool_:
        return wrap(B.elementwise("and", na, nb))
    return wrap(B.binary("mul", na, nb))


def div(a, b, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode not in (None, "trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"{rounding_mode!r}")
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        if result_dtype(a, b).is_floating_point:
            return div(a, b).trunc()
        (na, nb), _ = prepare("div", a, b)
        _check_integer_divisor("div", b)
        # exact in integers (a float quotient rounds past 2^24): a less its C remainder is a multiple of b
        return wrap(_e("idiv", _e("sub", na, _e("fmod", na, nb)), nb))
    (na, nb), dt = prepare_pair("div", a, b)  # floats already, mostly (a model's scales and norms)
    if not dt.is_floating_point:
        (na, nb), _ = prepare("div", a, b, dtype=_float_type(dt))
    return wrap(B.binary("div", na, nb))


def floor_divide(a, b) -> Tensor:
    (na, nb), dt = prepare("floor_divide", a, b)
    if dt.is_floating_point:
        if any(isinstance(x, TensorBase) and x.requires_grad for x in (a, b)):
            return _floor_divide_differentiable(a, b)
        return wrap(_floor_divide_floats(na, nb))
    _check_integer_divisor("floor_divide", b)
    return wrap(B.elementwise("idiv", na, nb))


def _check_integer_divisor(op: str, b) -> None:
    """PyTorch refuses an integer division by 0: at once for a Python 0, and where the result is
    read for a tensor holding one (lazytensor/checks.py; a kernel would give 0)."""
    if isinstance(b, TensorBase):
        checks.nonzero_divisor(op, b.node)
    elif b == 0:
        raise RuntimeError(f"{op}: ZeroDivisionError (an integer division by 0)")


def _floor_divide_floats(a: Node, b: Node) -> Node:
    """PyTorch's floor division of floats: the exact quotient's floor, from the exact remainder
    (floor(a / b) rounds a / b first: 1.0 // 0.1 is 9, where floor(1.0 / 0.1) is 10)."""
    mod = _e("fmod", a, b)
    ratio = _e("div", _e("sub", a, mod), b)  # a multiple of b over b: an integer, nearly
    ratio = _e("where", _sign_differs(mod, b), _e("sub", ratio, _like(ratio, 1)), ratio)
    whole = _e("floor", ratio)
    whole = _e("where", _e("lt", _like(ratio, 0.5), _e("sub", ratio, whole)), _e("add", whole, _like(whole, 1)), whole)
    quotient = _e("div", a, b)
    signed_zero = _e("mul", quotient, _like(quotient, 0.0))  # 0 with the quotient's sign
    whole = _e("where", _e("eq", ratio, _like(ratio, 0)), signed_zero, whole)
    return _e("where", _e("eq", b, _like(b, 0)), quotient, whole)  # by 0: IEEE's quotient


def _sign_differs(mod: Node, b: Node) -> Node:
    """A nonzero remainder whose sign is not the divisor's (as fmod leaves it, against Python's %)."""
    zero = _like(mod, 0)
    return _e("and", _e("ne", mod, zero), _e("ne", _e("lt", mod, zero), _e("lt", b, _like(b, 0))))


def _e(op: str, *srcs: Node) -> Node:
    return B.elementwise(op, *srcs)


def _like(x: Node, value) -> Node:
    return B.full_like_node(x, value)


def remainder(a, b) -> Tensor:
    (na, nb), dt = prepare("remainder", a, b)
    if dt.is_floating_point:  # the exact remainder, moved to the divisor's sign (PyTorch's, Python's)
        mod = _e("fmod", na, nb)
        return wrap(_e("where", _sign_differs(mod, nb), _e("add", mod, nb), mod))
    _check_integer_divisor("remainder", b)
    return wrap(B.elementwise("mod", na, nb))


def fmod(a, b) -> Tensor:
    (na, nb), dt = prepare("fmod", a, b)
    if not dt.is_floating_point:
        _check_integer_divisor("fmod", b)
    return wrap(_e("fmod", na, nb))


# Exponents PyTorch computes with another op, whose values at the edges are then its own:
# (-0.0) ** -0.5 is rsqrt's -inf (pow's +inf), (-inf) ** -0.5 is rsqrt's NaN (pow's 0).
_POW_AS = {2: lambda a: a * a, 1: lambda a: a.clone()}
# x ** -0.5 keeps pow's gradient, -0.5 x ** -1.5: at -0.0 it is -inf (rsqrt's own is +inf)
_RSQRT_POWER = differentiable("Pow", lambda a: a.rsqrt(), lambda grad, a: (grad * (-0.5 * a.pow(-1.5)),))
_FLOAT_POW_AS = {0.5: lambda a: a.sqrt(), -0.5: _RSQRT_POWER, -1: lambda a: a.reciprocal()}


def pow(a, b) -> Tensor:
    if isinstance(b, Scalar) and not isinstance(b, bool) and isinstance(a, TensorBase):
        special = _POW_AS.get(b) or (_FLOAT_POW_AS.get(b) if a.dtype.is_floating_point else None)
        if special is not None:
            return special(a)
        if isinstance(b, int) and b < 0 and not a.dtype.is_floating_point:
            raise RuntimeError(f"pow: Integers to negative integer powers are not allowed (a {a.dtype.name} tensor "
                               f"of shape {tuple(a.shape)} to the power {b})")
    (na, nb), dt = prepare("pow", a, b)
    # an exponent out of the dtype's range is refused, as PyTorch's; a number base wraps
    check_scalar_fits("pow", b, dt, na.shape)
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
    return (x != 0).node if isinstance(x, TensorBase) and x.dtype != D.bool_ else x.node


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
    if not isinstance(x, TensorBase):
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
asin = _unary_float("asin")
acos = _unary_float("acos")
atan = _unary_float("atan")
sinh = _unary_float("sinh")
cosh = _unary_float("cosh")
asinh = _unary_float("asinh")
acosh = _unary_float("acosh")
atanh = _unary_float("atanh")


def atan2(input: Tensor, other) -> Tensor:
    """The angle of the point (other, input): input is y, as in PyTorch."""
    (ny, nx), _ = prepare("atan2", input, other, dtype=_float_type(result_dtype(input, other)))
    return wrap(B.elementwise("atan2", ny, nx))

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
    if x.dtype.is_floating_point:  # an op of its own: its result requires grad (a zero gradient), as PyTorch's
        return wrap(B.elementwise("sign", x.node))
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


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


sigmoid = _unary_float("sigmoid")


def relu(x: Tensor) -> Tensor:
    # where, not maximum: the gradient at 0 is 0 (as PyTorch), and NaN passes through
    return where(x <= 0, 0, x) if x.dtype != D.bool_ else x.clone()


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x.float()


# erfc(z) for z >= 0 as Numerical Recipes' erfcc: t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), within
# 1.2e-7 of erfc relative to itself, so 1 + erf(x) = erfc(-x) keeps its digits far below 0 (gelu
# of negative x), where 1 + (an erf within 1.5e-7) had none left. The same formula on every device.
_ERFC_P = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
           1.48851587, -0.82215223, 0.17087277)
ERFC_ZERO_FROM = 10.5  # from here on erfc rounds to 0 in float32: it is 0, and z is clamped there
# so that no infinity reaches exp and its gradient (0 * inf would be NaN)


# Near 0, erf takes its Maclaurin series, 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)) (1 - erfc
# there loses erf's own digits: erf(1e-10) is 1.1e-10), whose first seven terms leave under 1e-8
# of it below ERF_SERIES_BELOW.
_ERF_SERIES = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(7))
ERF_SERIES_BELOW = 0.5


def polynomial(x: Tensor, coefficients) -> Tensor:
    """sum c_k x^k by Horner's rule, the coefficients lowest power first."""
    out = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        out = out * x + c
    return out


def erfc_factors(z: Tensor) -> tuple[Tensor, Tensor]:
    """(t, e) with erfc(z) = t exp(e) for z >= 0: the log of erfc is log t + e, finite where
    erfc itself underflows."""
    t = 1.0 / (1.0 + 0.5 * z)
    return t, polynomial(t, _ERFC_P) - z * z


def _erfc_of_magnitude(x: Tensor) -> Tensor:
    """erfc(|x|). |x| is taken by a where, not abs, whose gradient at 0 would be 0."""
    magnitude = where(x < 0, -x, x)
    t, exponent = erfc_factors(magnitude.clamp(max=ERFC_ZERO_FROM))
    return where(magnitude >= ERFC_ZERO_FROM, 0.0, t * exp(exponent))


def erfc(x: Tensor) -> Tensor:
    return _erfc(_float(x))


def erf(x: Tensor) -> Tensor:
    return _erf(_float(x))


def _erfc_value(x: Tensor) -> Tensor:
    tail = _erfc_of_magnitude(x)
    return where(x < 0, 2.0 - tail, tail)


def _erf_value(x: Tensor) -> Tensor:
    tail = _erfc_of_magnitude(x)
    near = x.clamp(-ERF_SERIES_BELOW, ERF_SERIES_BELOW)  # clamped: an infinite x sends no NaN through it
    series = polynomial(near * near, _ERF_SERIES)
    return where(x.abs() < ERF_SERIES_BELOW, near * series, where(x < 0, tail - 1.0, 1.0 - tail))


def _erf_slope(sign: float):
    """PyTorch's erf (erfc) backward, +-2/sqrt(pi) exp(-x^2) grad: autograd through the
    approximation would differentiate its error too, and gave 0 at NaN."""
    return lambda grad, x: (sign * TWO_OVER_SQRT_PI * exp(-(x * x)) * grad,)


TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_erf = differentiable("Erf", _erf_value, _erf_slope(1.0))
_erfc = differentiable("Erfc", _erfc_value, _erf_slope(-1.0))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    x = _float(x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + tanh(math.sqrt(2.0 / math.pi) * (x + x * x * x * 0.044715)))  # torch's order
    return 0.5 * x * erfc(x * (-1.0 / math.sqrt(2.0)))  # 1 + erf(x / sqrt 2), its digits kept far below 0


def silu(x: Tensor) -> Tensor:
    return _float(x) * sigmoid(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """x past the threshold, else log1p(exp(beta x)) / beta, whose exp reads beta x clamped to
    the threshold: an overflow there would make the gradient NaN even where x is taken."""
    x = _float(x)
    scaled = x * beta
    capped = where(scaled > threshold, threshold, scaled)  # not clamp, whose gradient at NaN is 0
    return where(scaled > threshold, x, log1p(exp(capped)) / beta)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    dt = result_dtype(x, *(v for v in (min, max) if v is not None))
    for bound in (min, max):
        check_scalar_fits("clamp", bound, dt, x.shape)
    return _clamp(x.to(dt), min, max)


def _clamp_value(x: Tensor, min, max) -> Tensor:
    out = x
    if min is not None:
        out = where(_or_nan(out < min, min), min, out)  # a NaN stays NaN, a NaN bound gives NaN
    if max is not None:
        out = where(_or_nan(out > max, max), max, out)
    return out


def _clamp_backward(grad: Tensor, x: Tensor, min, max) -> tuple:
    """PyTorch's clamp_backward and clamp_backward_min_max: x's passes where min <= x <= max (so
    not at a NaN, nor anywhere when min > max); a tensor bound's where x is beyond it, min's
    only where min < max, max's also wherever max < min (the result is max there)."""
    if min is None:
        return _routed(grad, x <= max, x), None, _routed(grad, x > max, max)
    if max is None:
        return _routed(grad, x >= min, x), _routed(grad, x < min, min), None
    return (_routed(grad, (x >= min) & (x <= max), x), _routed(grad, (x < min) & (min < max), min),
            _routed(grad, (x > max) | (max < min), max))


def _routed(grad: Tensor, passes: Tensor, to) -> Tensor | None:
    """grad where `passes`, else 0, in the dtype of `to`; None where `to` is a number."""
    if not isinstance(to, TensorBase):
        return None
    return where(passes, grad, 0.0).to(to.dtype)


_clamp = differentiable("Clamp", _clamp_value, _clamp_backward)


def _or_nan(beyond: Tensor, bound) -> Tensor:
    """`beyond`, or true where `bound` is NaN: a NaN bound clamps to NaN, as in PyTorch."""
    if isinstance(bound, TensorBase):
        return beyond | isnan(bound) if bound.dtype.is_floating_point else beyond
    return beyond | True if bound != bound else beyond


clip = clamp


def lerp(start: Tensor, end: Tensor, weight) -> Tensor:
    return _lerp(start, end, weight)


def _lerp_value(start: Tensor, end: Tensor, weight) -> Tensor:
    """PyTorch's two forms: from start for a weight below 1/2 in magnitude, from end otherwise
    (exact at weight 1, and what an infinite end gives)."""
    near_start, near_end = start + weight * (end - start), end - (end - start) * (1 - weight)
    if not isinstance(weight, TensorBase):
        return near_start if builtins.abs(weight) < 0.5 else near_end
    return where(abs(weight) < 0.5, near_start, near_end)


def _lerp_backward(grad: Tensor, start: Tensor, end: Tensor, weight) -> tuple:
    """PyTorch's: grad (1 - weight), grad weight, grad (end - start); finite where the value is NaN."""
    dw = (grad * (end - start)).to(weight.dtype) if isinstance(weight, TensorBase) else None
    return (grad * (1 - weight)).to(start.dtype), (grad * weight).to(end.dtype), dw


_lerp = differentiable("Lerp", _lerp_value, _lerp_backward)


def where(condition: Tensor, input=None, other=None) -> Tensor:
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, TensorBase):
        raise TypeError("where(): argument 'condition' must be a bool Tensor")
    if condition.dtype != D.bool_:
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{condition.dtype.name} (shape {tuple(condition.shape)})")
    dt = result_dtype(input, other)
    device, shape = _placed("where", (condition, input, other))
    for value in (input, other):
        check_scalar_fits("where", value, dt, shape)
    cond = as_node(condition, D.bool_, shape, device)  # straight to bool, not via dt
    return wrap(B.elementwise("where", cond, as_node(input, dt, shape, device), as_node(other, dt, shape, device)))


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
    info = finfo(x.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where(isnan(x), nan, x)
    out = where(out == math.inf, posinf, out)
    return where(out == -math.inf, neginf, out)


# ---- composites: ops PyTorch has that are a few of the above ----------------------------------

def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2, multiplied in PyTorch's order."""
    return input + value * tensor1 * tensor2


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2, in PyTorch's order."""
    return input + value * tensor1 / tensor2


def frac(x: Tensor) -> Tensor:
    return x - x.trunc()


def deg2rad(x: Tensor) -> Tensor:
    return _float(x) * (math.pi / 180.0)


def rad2deg(x: Tensor) -> Tensor:
    return _float(x) * (180.0 / math.pi)


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    return _logit(_float(x), eps)


def _logit_value(x: Tensor, eps: float | None) -> Tensor:
    if eps is not None:
        x = clamp(x, eps, 1.0 - eps)
    return (x / (1.0 - x)).log()


def _logit_backward(grad: Tensor, x: Tensor, eps: float | None) -> tuple:
    """PyTorch's logit_backward: grad / (x (1 - x)), grad * inf at 0 and 1 (signed by grad
    alone); NaN outside [0, 1], or 0 outside [eps, 1 - eps] where x was clamped (the
    composite's gradient was finite below 0)."""
    # each branch stays finite where the other is taken: a where's unselected branch gets a zero
    # gradient, and 0 * inf there would make a second derivative NaN everywhere
    edge = (x == 0) | (x == 1)
    inside = where(edge, 0.5, x)
    inner = where(edge, grad * where(edge, math.inf, 0.0), grad / (inside * (1.0 - inside)))
    if eps is None:
        return where((x < 0) | (x > 1), math.nan, inner), None
    return where((x < eps) | (x > 1.0 - eps), 0.0, inner), None


_logit = differentiable("Logit", _logit_value, _logit_backward)


def logaddexp(a: Tensor, b: Tensor) -> Tensor:
    """log(exp(a) + exp(b)) without overflow: the larger plus log1p(exp(-|a - b|)); two equal
    infinities give themselves (their difference is NaN)."""
    a, b = _float(a), _float(b)
    top = maximum(a, b)
    return where((a == b) & isinf(a), a, top + (-(a - b).abs()).exp().log1p())


def logaddexp2(a: Tensor, b: Tensor) -> Tensor:
    """log2(2 ** a + 2 ** b), as logaddexp in base 2."""
    a, b = _float(a), _float(b)
    top = maximum(a, b)
    return where((a == b) & isinf(a), a, top + (-(a - b).abs() * LN2).exp().log1p() * (1 / LN2))


def hypot(a: Tensor, b: Tensor) -> Tensor:
    """sqrt(a^2 + b^2), whose gradients are PyTorch's grad * a / result and grad * b / result
    (NaN at the origin, 0 for a finite side beside an infinite one)."""
    return _hypot(_float(a), _float(b))


def _hypot_value(a: Tensor, b: Tensor) -> Tensor:
    """sqrt(a^2 + b^2) scaled by the larger magnitude, so that squares never overflow; an
    infinite side gives inf even beside NaN, as C's hypot."""
    a, b = abs(a), abs(b)
    big, small = maximum(a, b), minimum(a, b)
    ratio = small / where(big == 0, 1.0, big)
    out = big * (1.0 + ratio * ratio).sqrt()
    return where(isinf(a) | isinf(b), math.inf, out)


def _hypot_backward(grad: Tensor, a: Tensor, b: Tensor) -> tuple:
    out = _hypot_value(a, b)
    return (grad * a / out).to(a.dtype), (grad * b / out).to(b.dtype)


_hypot = differentiable("Hypot", _hypot_value, _hypot_backward)


def xlogy(x, y) -> Tensor:
    """x * log(y), 0 where x is 0 (unless y is NaN), as PyTorch; either may be a number."""
    return _xlogy(x, y)


def xlog1py(x, y) -> Tensor:
    """x * log1p(y), 0 where x is 0 (unless y is NaN), as PyTorch; either may be a number."""
    return _xlog1py(x, y)


def _x_log(name: str, log_of: Callable[[Tensor], Tensor], pole: float):
    """xlogy (log, pole 0) or xlog1py (log1p, pole -1), with PyTorch's gradients: x's is
    xlogy(grad, y), but 0 where x is 0 and y is at or below the pole (where y is a number: unless
    it is above it), as in derivatives.yaml; y's is grad * x / (y - pole)."""
    def operands(x, y) -> tuple[Tensor, Tensor]:
        dt = _float_type(result_dtype(x, y))
        device, shape = _placed(name, (x, y))
        return tuple(wrap(as_node(v, dt, shape, device)) for v in (x, y))

    def value(x, y) -> Tensor:
        x, y = operands(x, y)
        return where(isnan(y), math.nan, where(x == 0, 0.0, x * log_of(y)))

    def backward(grad: Tensor, x, y) -> tuple:
        tx, ty = operands(x, y)
        dx = dy = None
        if isinstance(x, TensorBase):
            kept = value(grad, y)
            if isinstance(y, TensorBase):
                dx = where((tx == 0) & (ty <= pole), 0.0, kept)
            else:
                dx = kept if y > pole else where(tx == 0, 0.0, kept)
            dx = dx.to(x.dtype)
        if isinstance(y, TensorBase):
            dy = (grad * tx / (ty - pole)).to(y.dtype)
        return dx, dy
    return differentiable(name.capitalize(), value, backward)


_xlogy = _x_log("xlogy", log, 0.0)
_xlog1py = _x_log("xlog1py", log1p, -1.0)


def fmax(a: Tensor, b: Tensor) -> Tensor:
    """The larger, where a NaN loses to a number (maximum propagates it); a tie's gradient goes
    to a, as PyTorch's (a's where a >= b or b is NaN, b's elsewhere)."""
    return where((a >= b) | isnan(b), a, b)


def fmin(a: Tensor, b: Tensor) -> Tensor:
    """The smaller, where a NaN loses to a number (minimum propagates it); a tie's gradient goes
    to a, as PyTorch's."""
    return where((a <= b) | isnan(b), a, b)


def copysign(input, other) -> Tensor:
    """input's magnitude with other's sign bit: -0.0 (and a NaN with its sign bit set) count
    as negative, as in C and PyTorch."""
    (na, nb), _ = prepare("copysign", input, other, dtype=_float_type(result_dtype(input, other)))
    return wrap(B.elementwise("copysign", na, nb))


def signbit(x: Tensor) -> Tensor:
    """Whether x's sign bit is set: True at -0.0 too, where x < 0 is False."""
    return copysign(1.0, x) < 0 if x.dtype.is_floating_point else x < 0


def heaviside(input: Tensor, values) -> Tensor:
    """0 below zero, 1 above, `values` at zero (NaN is not above zero: 0)."""
    if isinstance(values, TensorBase) and values.dtype != input.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes: input "
                           f"{input.dtype.name} {tuple(input.shape)}, values {values.dtype.name} {tuple(values.shape)}")
    return _heaviside(input, values)


def _no_derivative(op: str) -> Callable[..., tuple]:
    """The backward of an op PyTorch gives no derivative (its result requires grad; backward raises)."""
    def backward(grad: Tensor, *args) -> tuple:
        raise RuntimeError(f"derivative for aten::{op} is not implemented (input {describe(*args)})")
    return backward


_heaviside = differentiable("Heaviside", lambda input, values: where(input == 0, values, (input > 0).to(input.dtype)),
                            _no_derivative("heaviside"))
_floor_divide_differentiable = differentiable(
    "FloorDivide", lambda a, b: wrap(_floor_divide_floats(*prepare("floor_divide", a, b)[0])),
    _no_derivative("floor_divide"))


def float_power(input, exponent) -> Tensor:
    """input ** exponent computed in float64, as PyTorch's float_power."""
    def double(x):
        return x.double() if isinstance(x, TensorBase) else float(x)
    return pow(double(input), double(exponent))


def isclose(a: Tensor, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """PyTorch's isclose: equal values (infinities of one sign included), or a finite difference
    within atol + rtol * |b| (a finite value is never close to an infinity)."""
    difference = (a - b).abs()
    allowed = atol + rtol * (b.abs() if isinstance(b, TensorBase) else builtins.abs(b))  # abs here is the tensor op
    close = (a == b) | (isfinite(difference) & (difference <= allowed))
    if equal_nan:
        close = close | ((a != a) & (b != b))
    return close


def allclose(a: Tensor, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return isclose(a, b, rtol, atol, equal_nan).all().item()


def clamp_min(x: Tensor, min) -> Tensor:
    return clamp(x, min=min)


def clamp_max(x: Tensor, max) -> Tensor:
    return clamp(x, max=max)


def isposinf(x: Tensor) -> Tensor:
    return x == math.inf if x.dtype.is_floating_point else zeros_bool(x)


def isneginf(x: Tensor) -> Tensor:
    return x == -math.inf if x.dtype.is_floating_point else zeros_bool(x)


# ---- aliases, reflected operators, in-place forms (tensor.py lists them as Tensor methods) -----

multiply, subtract, divide, true_divide, negative, absolute = mul, sub, div, div, neg, abs
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def where_method(self: Tensor, condition: Tensor, other) -> Tensor:
    """x.where(condition, y): x where condition holds, else y."""
    return where(condition, self, other)


def reflected(fn: Callable) -> Callable:
    """The reflected operator (`2 - x` calls x.__rsub__(2))."""
    def method(self: Tensor, other) -> Tensor:
        return fn(other, self)
    method.__name__ = f"r{fn.__name__}"
    return method


def positive(self: Tensor) -> Tensor:
    if self.dtype == D.bool_:
        raise RuntimeError(f"The `+` operator, on a bool tensor is not supported (shape {tuple(self.shape)}).")
    return self


def rsub(input: Tensor, other, alpha=1) -> Tensor:
    """other - alpha * input."""
    return sub(other, input, alpha=alpha)


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
        # fn reads a copy: the ops it is built from may keep what they read for backward,
        # and self's storage is about to be written
        result = fn(self.clone(), *args, **kwargs)
        check_inplace_dtype(name + "_", self, result)
        return self._assign(result.node)
    method.__name__ = name + "_"
    return method
