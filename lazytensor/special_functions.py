"""Special functions as composites of elementwise ops: lgamma, digamma, polygamma, erfinv,
ndtri, log_ndtr, sinc, i0, i1, entr. They fuse like any other chain of elementwise ops.

Where a composite approximates a function whose derivative is another special function
(lgamma' = digamma), the op is an autograd Function whose backward is that function:
autograd through an approximation would differentiate its error too. The backward is built
from the same public ops, so a second derivative follows where one is defined."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

from .autograd.function import differentiable
from .elementwise import TWO_OVER_SQRT_PI, _float, erf, erfc, erfc_factors, exp, isinf, log, log1p, polynomial, sin, tan, where
from .tensor_base import TensorBase

if TYPE_CHECKING:
    from .tensor import Tensor

EULER = 0.5772156649015329


def _zeta_minus_one(s: int) -> float:
    """zeta(s) - 1 for an integer s >= 2 in double precision: 48 terms and the Euler-Maclaurin tail."""
    n = 50
    head = math.fsum(k ** -s for k in range(2, n))
    return head + n ** (1 - s) / (s - 1) + n ** -s / 2 + s * n ** (-s - 1) / 12


def _float_input(op: str, x) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return _float(x)


def _differentiable(name: str, value: Callable[[Tensor], Tensor], derivative: Callable[[Tensor], Tensor]):
    """The op `value` on float tensors, whose gradient is grad * derivative(x)."""
    fn = differentiable(name.capitalize(), value, lambda grad, x: (grad * derivative(x),))

    def op(input: Tensor) -> Tensor:
        return fn(_float_input(name, input))
    op.__name__ = name
    op.__doc__ = value.__doc__
    return op


# ---- the gamma function's logarithm and its derivatives ---------------------------------------

# lgamma(2 + t) = (1 - gamma) t + sum_k>=2 (-1)^k (zeta(k) - 1) t^k / k: for |t| <= 1/2 the terms
# fall as 4^-k, and near lgamma's zeros at 1 and 2 the value keeps its relative digits (a
# difference of two large logarithms, as Stirling's form would take there, does not).
_NEAR_TWO = (0.0, 1 - EULER) + tuple((-1) ** k * _zeta_minus_one(k) / k for k in range(2, 18))
# its derivative, digamma(2 + t) = (1 - gamma) + sum_k>=2 (-1)^k (zeta(k) - 1) t^(k-1)
_NEAR_TWO_DIGAMMA = (1 - EULER,) + tuple((-1) ** k * _zeta_minus_one(k) for k in range(2, 18))
# Stirling's series past STIRLING_FROM: sum B_2k / (2k (2k - 1) z^(2k - 1)), B_2k Bernoulli numbers
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
_STIRLING = tuple(b / (2 * k * (2 * k - 1)) for k, b in enumerate(_BERNOULLI, 1))
STIRLING_FROM = 4.5
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def _shift_up(x: Tensor, to: float, steps: int, term: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """(z, sum of term(x + i) for the steps taken): x moved up by ones until it reaches `to`,
    at most `steps` times (enough for the x the caller passes)."""
    z, total = x, x * 0.0
    for _ in range(steps):
        below = z < to
        total = where(below, total + term(where(below, z, to)), total)
        z = where(below, z + 1.0, z)
    return z, total


def _sin_pi_reduced(x: Tensor) -> Tensor:
    """x less its nearest integer: sin(pi x) and tan(pi x) of it are exact where pi x in float is not."""
    return x - x.round()


def _lgamma_stirling(z: Tensor) -> Tensor:
    """lgamma(z) for z >= STIRLING_FROM, as (z - 1/2)(log z - 1) - 1/2 + log(2 pi)/2 + series, whose
    first product overflows no sooner than lgamma does."""
    r = 1.0 / z
    return (z - 0.5) * (log(z) - 1.0) + (HALF_LOG_TWO_PI - 0.5) + r * polynomial(r * r, _STIRLING)


def _lgamma_from_half(x: Tensor) -> Tensor:
    """lgamma(x) for x >= 1/2: below 9/2 the series about 2, moved there by lgamma(x) = lgamma(x - 1)
    + log(x - 1) (terms of one sign: no digits lost) or lgamma(x) = lgamma(x + 1) - log x; from 9/2
    Stirling's series."""
    w, logs = where(x < STIRLING_FROM, x, 2.0), x * 0.0
    for _ in range(3):
        above = w >= 2.5
        logs = where(above, logs + log(where(above, w - 1.0, 1.0)), logs)
        w = where(above, w - 1.0, w)
    below = w < 1.5
    series = polynomial(where(below, w - 1.0, w - 2.0), _NEAR_TWO) + logs - where(below, log(w), 0.0)  # t exact
    return where(x < STIRLING_FROM, series, _lgamma_stirling(where(x < STIRLING_FROM, STIRLING_FROM, x)))


def _lgamma(x: Tensor) -> Tensor:
    """lgamma(x): log|gamma(x)|, by the reflection formula log(pi / |sin(pi x)|) - lgamma(1 - x)
    below 1/2; inf at the poles (0 and the negative integers) and at +-inf."""
    reflect = x < 0.5
    value = _lgamma_from_half(where(reflect, 1.0 - x, x))
    reflected = math.log(math.pi) - log(sin(math.pi * _sin_pi_reduced(x)).abs()) - value
    return where(isinf(x), math.inf, where(reflect, reflected, value))


# digamma's asymptotic series past DIGAMMA_FROM: log z - 1/(2z) - sum B_2k / (2k z^2k)
_DIGAMMA_SERIES = tuple(b / (2 * k) for k, b in enumerate(_BERNOULLI, 1))
DIGAMMA_FROM = 6.0


def _digamma(x: Tensor) -> Tensor:
    """digamma(x) = lgamma'(x): the steps up to 6 then the asymptotic series, reflected below 1/2
    as digamma(1 - x) - pi / tan(pi x). As PyTorch: -inf at 0, inf at -0, NaN at the negative
    integers and -inf."""
    reflect = x < 0.5
    y = where(reflect, 1.0 - x, x)
    z, steps = _shift_up(y, DIGAMMA_FROM, 6, lambda v: 1.0 / v)
    r2 = 1.0 / (z * z)
    value = log(z) - 0.5 / z - r2 * polynomial(r2, _DIGAMMA_SERIES) - steps
    reflected = value - math.pi / tan(math.pi * _sin_pi_reduced(x))
    out = where(reflect, reflected, value)
    out = where(x == 0, where(1.0 / x < 0, math.inf, -math.inf), out)  # 1/x tells -0 from 0
    return where((x < 0) & (x == x.round()), math.nan, where(x == math.inf, math.inf, out))


# trigamma's asymptotic series past DIGAMMA_FROM: 1/z + 1/(2 z^2) + sum B_2k / z^(2k + 1)
def _trigamma(x: Tensor) -> Tensor:
    """polygamma(1, x) = digamma'(x): the steps up to 6 then the asymptotic series, reflected
    below 1/2 as pi^2 / sin^2(pi x) - trigamma(1 - x); inf at the poles."""
    reflect = x < 0.5
    y = where(reflect, 1.0 - x, x)
    z, steps = _shift_up(y, DIGAMMA_FROM, 6, lambda v: 1.0 / (v * v))
    r = 1.0 / z
    value = r + 0.5 * r * r + r * r * r * polynomial(r * r, _BERNOULLI) + steps
    sine = sin(math.pi * _sin_pi_reduced(x))
    reflected = (math.pi * math.pi) / (sine * sine) - value
    out = where(reflect, reflected, value)
    out = where((x <= 0) & (x == x.round()), math.inf, out)
    return where(x == math.inf, 0.0, where(x == -math.inf, math.nan, out))


def _no_polygamma_2(x: Tensor) -> Tensor:
    raise NotImplementedError(f"the gradient of polygamma(1, x) (polygamma(2, x)) is not supported "
                              f"(x of shape {tuple(x.shape)})")


trigamma = _differentiable("trigamma", _trigamma, _no_polygamma_2)
digamma = _differentiable("digamma", _digamma, trigamma)
lgamma = _differentiable("lgamma", _lgamma, digamma)
psi = digamma

_POLYGAMMA = {0: digamma, 1: trigamma}


def polygamma(n: int, input: Tensor) -> Tensor:
    """The n-th derivative of digamma, for n = 0 (digamma) and n = 1 (trigamma)."""
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma: n must be a non-negative integer, got {n!r}")
    if n not in _POLYGAMMA:
        raise NotImplementedError(f"polygamma: n = {n} is not supported (only n = 0 and n = 1), input shape "
                                  f"{tuple(getattr(input, 'shape', ()))}")
    return _POLYGAMMA[n](input)


def polygamma_method(self: Tensor, n: int) -> Tensor:
    """x.polygamma(n): PyTorch's method takes n after the tensor."""
    return polygamma(n, self)


# ---- inverse error function ------------------------------------------------------------------

# Giles' single-precision erfinv (2010): x P(w) in w = -log(1 - x^2), two pieces.
_GILES_CENTRAL = (1.50140941, 0.246640727, -0.00417768164, -0.00125372503, 0.00021858087, -4.39150654e-06,
                  -3.5233877e-06, 3.43273939e-07, 2.81022636e-08)
_GILES_TAIL = (2.83297682, 1.00167406, 0.00943887047, -0.0076224613, 0.00573950773, -0.00367342844,
               0.00134934322, 0.000100950558, -0.000200214257)
GILES_TAIL_FROM, GILES_TAIL_TO = 5.0, 17.0  # the tail piece's range: float32's 1 - x reaches 6e-8
TAIL_NEWTON_STEPS = 3


def _log_erfc(z: Tensor) -> Tensor:
    """log erfc(z) for z >= 0, finite where erfc underflows."""
    t, exponent = erfc_factors(z)
    return log(t) + exponent


def _erfinv_of(sign: Tensor, a: Tensor, complement: Tensor) -> Tensor:
    """erfinv(sign a) for a in [0, 1], given with its complement 1 - a (each exact where it is
    small, so that both ends keep their digits): Giles' approximation, then Newton steps, on erf
    in the middle and on log erfc in the tails (where erf(y) - a would lose the digits, and
    where ndtri's complements run below float32's 1 - x, past Giles' range: sqrt(-log c) starts
    the steps there). +-inf at a = 1, NaN beyond [0, 1]."""
    w = -log(complement * (2.0 - complement))
    central = polynomial(w - 2.5, _GILES_CENTRAL) * a
    central = central - (erf(central) - a) / (TWO_OVER_SQRT_PI * exp(-central * central))
    beyond = w > GILES_TAIL_TO
    y = where(beyond, (-log(complement)).sqrt(), polynomial(w.clamp(GILES_TAIL_FROM, GILES_TAIL_TO).sqrt() - 3.0, _GILES_TAIL) * a)
    target = log(complement)
    for _ in range(TAIL_NEWTON_STEPS):
        log_erfc = _log_erfc(y)
        y = y + (log_erfc - target) / (TWO_OVER_SQRT_PI * exp(-y * y - log_erfc))
    out = where(complement == 0, math.inf, where(w < GILES_TAIL_FROM, central, y))
    out = where((a < 0) | (a > 1), math.nan, out)
    return sign * out


def _erfinv(x: Tensor) -> Tensor:
    """The inverse of erf on [-1, 1]: +-inf at +-1, NaN outside."""
    magnitude = x.abs()
    return _erfinv_of(where(x < 0, -1.0, 1.0), magnitude, 1.0 - magnitude)


def _erfinv_derivative(x: Tensor) -> Tensor:
    y = erfinv(x)
    return math.sqrt(math.pi) / 2 * exp(y * y)


erfinv = _differentiable("erfinv", _erfinv, _erfinv_derivative)

SQRT2 = math.sqrt(2.0)


def ndtr(x: Tensor) -> Tensor:
    """The standard normal CDF, as erfc(-x / sqrt 2) / 2, which keeps its digits far below 0."""
    return 0.5 * erfc(_float_input("ndtr", x) * (-1 / SQRT2))


def _ndtri(p: Tensor) -> Tensor:
    """The standard normal quantile, sqrt 2 erfinv(2p - 1), with 1 - |2p - 1| taken as 2 min(p, 1 - p):
    exact, where 2p - 1 would round tiny p to -1."""
    return SQRT2 * _erfinv_of(where(p < 0.5, -1.0, 1.0), (2.0 * p - 1.0).abs(), 2.0 * where(p < 0.5, p, 1.0 - p))


def _ndtri_derivative(p: Tensor) -> Tensor:
    y = ndtri(p)
    return math.sqrt(2 * math.pi) * exp(0.5 * y * y)


ndtri = _differentiable("ndtri", _ndtri, _ndtri_derivative)


def _log_ndtr(x: Tensor) -> Tensor:
    """log of the standard normal CDF; below 0 as log(erfc(z) / 2) = log t - z^2 + P(t) - log 2
    from erfc's own form, finite far past where erfc underflows."""
    z = where(x < 0, x * (-1 / SQRT2), 0.0)
    t, exponent = erfc_factors(z)
    lower = log(t) + exponent - math.log(2.0)
    return where(x < 0, lower, log1p(-0.5 * erfc(where(x < 0, 0.0, x) * (1 / SQRT2))))


def _log_ndtr_derivative(x: Tensor) -> Tensor:
    """The normal density over its CDF, as one exp: the density alone underflows first."""
    return exp(-0.5 * x * x - log_ndtr(x)) * (1 / math.sqrt(2 * math.pi))


log_ndtr = _differentiable("log_ndtr", _log_ndtr, _log_ndtr_derivative)


# ---- sinc, Bessel functions, entropy ---------------------------------------------------------

def sinc(input: Tensor) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0. The division reads 1 where x is 0, so that its gradient there
    is 0 and not NaN."""
    x = _float_input("sinc", input)
    safe = where(x == 0, 1.0, x)
    return where(x == 0, 1.0, sin(math.pi * safe) / (math.pi * safe))


# Abramowitz and Stegun 9.8.1-9.8.4: I0 and I1 as polynomials in (x / 3.75)^2 up to 3.75, and as
# exp(|x|) / sqrt(|x|) times polynomials in 3.75 / |x| past it (relative error below 2.2e-7)
_I0_SMALL = (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813)
_I0_LARGE = (0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706, 0.02635537,
             -0.01647633, 0.00392377)
_I1_SMALL = (0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411)
_I1_LARGE = (0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967, -0.02895312,
             0.01787654, -0.00420059)
BESSEL_SPLIT = 3.75


def _bessel(x: Tensor, small: Sequence[float], large: Sequence[float]) -> tuple[Tensor, Tensor]:
    """(the small-x polynomial, the large-x form) of A&S's two-piece formulas at |x|."""
    magnitude = x.abs()
    near = where(magnitude <= BESSEL_SPLIT, x, BESSEL_SPLIT) * (1 / BESSEL_SPLIT)
    far = where(magnitude <= BESSEL_SPLIT, BESSEL_SPLIT, magnitude)  # NaN takes this piece
    return polynomial(near * near, small), exp(far) / far.sqrt() * polynomial(BESSEL_SPLIT / far, large)


def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1 (odd in x)."""
    x = _float_input("i1", input)
    small, large = _bessel(x, _I1_SMALL, _I1_LARGE)
    return where(x.abs() <= BESSEL_SPLIT, x * small, where(x < 0, -large, large))


def _i0(x: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0 (even in x)."""
    small, large = _bessel(x, _I0_SMALL, _I0_LARGE)
    return where(x.abs() <= BESSEL_SPLIT, small, large)


i0 = _differentiable("i0", _i0, i1)


def _entr(x: Tensor) -> Tensor:
    """-x log x elementwise: 0 at 0, -inf below 0."""
    return where(x < 0, -math.inf, where(x == 0, 0.0, -x * log(where(x == 0, 1.0, x))))


def _entr_derivative(x: Tensor) -> Tensor:
    """PyTorch's -(1 + log x), unguarded: inf at 0 (so NaN for a gradient of 0), NaN below."""
    return -(1 + log(x))


entr = _differentiable("entr", _entr, _entr_derivative)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension p:
    sum_i<p lgamma(x - i / 2) + p (p - 1) / 4 log(pi)."""
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1 (got p = {p})")
    x = _float_input("mvlgamma", input)
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)
