"""The matrix exponential by scaling and squaring, as lazy tensor ops: A / 2^s has 1-norm at
most 1, its exponential is a Taylor polynomial (exact to the dtype's precision there), squared
s times. s depends on the data, so the squarings are a fixed number of steps, each squaring
only where s asks for it: the code (and the kernels) are the same for every input."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import checks
from .creation import eye
from .elementwise import where
from .elimination import now_if_eager
from .ir import dtype as dtypes
from .spectral import float_matrices

if TYPE_CHECKING:
    from .tensor import Tensor

# terms past which the Taylor remainder at norm 1 (1 / (terms + 1)!) is below the dtype's eps
_TERMS = {dtypes.float32: 12, dtypes.float64: 18}
MAX_SQUARINGS = 24  # 1-norms up to 2^24; a larger one raises


def matrix_exp(A: Tensor) -> Tensor:
    """exp(A) = I + A + A^2 / 2! + ... of each square matrix."""
    float_matrices("linalg.matrix_exp", A, square=True)
    n = A.shape[-1]
    if n == 0:
        return A.clone()
    norm = A.abs().sum(-2).amax(-1)  # the 1-norm, (...,)
    squarings = norm.clamp(min=1.0).log2().ceil()
    _ask_few_squarings(norm, squarings)
    scaled = A / (2.0 ** squarings).unsqueeze(-1).unsqueeze(-1)
    identity = eye(n, dtype=A.dtype, device=A.device)
    power = identity
    for k in range(_TERMS[A.dtype], 0, -1):  # Horner: I + X/1 (I + X/2 (I + ...))
        power = identity + scaled @ power / k
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
