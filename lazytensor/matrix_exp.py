"""The matrix exponential by scaling and squaring, as lazy tensor ops: A / 2^s has 1-norm at
most 1, its exponential is a Taylor polynomial (exact to the dtype's precision there), squared
s times. s depends on the data, so the squarings are a fixed number of steps, each squaring
only where s asks for it: the code (and the kernels) are the same for every input.

The gradient is the exponential of a block matrix (as PyTorch's): the derivative of exp at A
in the direction E is the upper right block of exp([[A, E], [0, A]]), so the backward is one
more forward of twice the size, not autograd through every step."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import checks
from .autograd.function import Function
from .creation import eye
from .elementwise import where
from .elimination import float_matrices, now_if_eager
from .ir import dtype as dtypes
from .movement import cat

if TYPE_CHECKING:
    from .tensor import Tensor

# the Taylor terms past which the remainder at norm 1 (1 / (terms + 1)!) is below the dtype's eps
# (12 is float32's, and more than enough for the 16-bit dtypes)
_TERMS = {dtypes.float64: 18}
_BLOCK = 4  # the polynomial is one in A^4 whose coefficients are polynomials of degree 3 in A
MAX_SQUARINGS = 24  # 1-norms up to 2^24; a larger one raises


def _one_norm(A: Tensor) -> Tensor:
    return A.abs().sum(-2).amax(-1)


def _taylor(X: Tensor) -> Tensor:
    """sum_k X^k / k! up to the dtype's terms, by Paterson-Stockmeyer: Horner's rule in X^4."""
    identity = eye(X.shape[-1], dtype=X.dtype, device=X.device)
    powers = [identity, X]
    while len(powers) <= _BLOCK:
        powers.append(powers[-1] @ X)
    coefficients = [1.0]
    for k in range(1, _TERMS.get(X.dtype, 12) + 1):
        coefficients.append(coefficients[-1] / k)
    result = None
    for start in reversed(range(0, len(coefficients), _BLOCK)):
        block = sum(c * p for c, p in zip(coefficients[start:start + _BLOCK], powers))
        result = block if result is None else block + result @ powers[_BLOCK]
    return result


def _exp(A: Tensor) -> Tensor:
    norm = _one_norm(A)
    squarings = norm.clamp(min=1.0).log2().ceil()
    _ask_few_squarings(norm, squarings)
    power = _taylor(A / (2.0 ** squarings).unsqueeze(-1).unsqueeze(-1))
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    for i in range(MAX_SQUARINGS):
        # times I where no more squarings are due, so nothing overflows that is not wanted
        power = power @ where((squarings > i).unsqueeze(-1).unsqueeze(-1), power, identity)
    return power


def _ask_few_squarings(norm: Tensor, squarings: Tensor) -> None:
    needed = squarings.to(dtypes.int64)
    now_if_eager(checks.first_where(
        "linalg.matrix_exp", ((squarings > MAX_SQUARINGS) & norm.isfinite()).node, needed.node, RuntimeError,
        f"linalg.matrix_exp: a matrix's 1-norm needs {{index}} squarings, more than the {MAX_SQUARINGS} lazytensor "
        f"does (1-norms up to 2^{MAX_SQUARINGS})"))


class _MatrixExp(Function):
    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _exp(A)

    @staticmethod
    def backward(ctx, grad):
        A, = ctx.saved_tensors
        n = A.shape[-1]
        # the derivative is linear in its direction: scaled to norm 1, the gradient's size
        # never adds squarings
        scale = _one_norm(grad)
        scale = where(scale > 0, scale, 1.0).unsqueeze(-1).unsqueeze(-1)
        top = cat([A.mT, grad / scale], -1)
        bottom = cat([A.new_zeros(tuple(A.shape)), A.mT], -1)
        return _exp(cat([top, bottom], -2))[..., :n, n:] * scale


def matrix_exp(A: Tensor) -> Tensor:
    """exp(A) = I + A + A^2 / 2! + ... of each square matrix."""
    float_matrices("linalg.matrix_exp", A, square=True)
    if A.shape[-1] == 0:
        return A.clone()
    return _MatrixExp.apply(A)
