"""A float as mantissa and power of two: frexp splits it, ldexp joins the parts."""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

from .autograd.function import Function
from .ir import dtype as D
from .elementwise import describe, exp2, floor, isfinite, isinf, isnan, log2, pow, result_dtype, where
from .tensor_base import TensorBase
from .type_info import finfo

if TYPE_CHECKING:
    from .tensor import Tensor

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """input * 2 ** other, in the operands' float type (float32 for two integer tensors)."""
    dt = result_dtype(input, other)
    dt = dt if dt.is_floating_point else D.float32
    return input.to(dt) * pow(2.0, other).to(dt)


def _times_power_of_two(x: Tensor, exponent: Tensor) -> Tensor:
    """x * 2 ** exponent in two halves, so that neither factor overflows or goes subnormal
    where the product does not (a subnormal x has an exponent near -150)."""
    half = floor(exponent / 2)
    return x * exp2(half) * exp2(exponent - half)


def frexp(input: Tensor) -> frexp_result:
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, 0.5 <= |mantissa| < 1; zeros,
    infinities and NaN are their own mantissa with exponent 0."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes (got {input.dtype.name}, shape "
                           f"{tuple(input.shape)})")
    regular = isfinite(input) & (input != 0)
    exponent = floor(log2(where(regular, input.abs(), 1.0))) + 1
    mantissa = _times_power_of_two(input, -exponent)
    # log2 rounds: a value next to a power of two can land one binade off
    high, low = mantissa.abs() >= 1, mantissa.abs() < 0.5
    mantissa = where(high, mantissa / 2, where(low, mantissa * 2, mantissa))
    exponent = exponent + high.to(exponent.dtype) - low.to(exponent.dtype)
    return frexp_result(where(regular, mantissa, input), where(regular, exponent, 0.0).to(D.int32))


# each float dtype's significand digits and the exponent of its smallest subnormal
_DIGITS = {D.float16: (11, -24), D.bfloat16: (8, -133), D.float32: (24, -149), D.float64: (53, -1074)}


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next float after input in the direction of other (other itself where they are equal)."""
    if not isinstance(other, TensorBase):
        raise TypeError(f"nextafter(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    dt = result_dtype(input, other)
    if not dt.is_floating_point:
        raise RuntimeError(f"nextafter: expected floating-point operands, got {describe(input, other)}")
    x, y = input.to(dt), other.to(dt)
    digits, smallest = _DIGITS[dt]
    mantissa, exponent = frexp(x)
    spacing = where(x == 0, smallest, (exponent - digits).clamp(min=smallest)).to(dt)
    toward = (y - x).sign()
    # a step toward zero from a power of two lands in the binade below, whose spacing is half
    halved = (toward * x < 0) & (mantissa.abs() == 0.5) & (spacing > smallest)
    step = _times_power_of_two(toward, spacing - halved.to(dt))
    largest = finfo(dt).max
    out = where(isinf(x), x.sign() * largest, x + step)  # infinity steps back to the largest float
    value = where(x == y, y, where(isnan(x) | isnan(y), x + y, out)).detach()
    return _StepOfInput.apply(x, y, value) if x.requires_grad or y.requires_grad else value


class _StepOfInput(Function):
    """nextafter's gradient as PyTorch's: the input's passes through, the direction's is 0."""

    @staticmethod
    def forward(ctx, input, other, value):
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, grad * 0, None
