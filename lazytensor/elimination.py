"""Linear systems by elimination, as lazy tensor ops: Gauss-Jordan elimination with partial
pivoting (solve, inv, det, slogdet) and the Cholesky factorisation.

Each of the n steps of an n x n matrix is a few fused elementwise kernels and a reduction
(the pivot search), the same code at every step (the step number is a kernel argument),
batched over leading dims. Gradients are autograd's through the steps: the pivot choice is
an index (no gradient), the arithmetic is differentiable. The work is O(n^3) per matrix
as LAPACK's, in n dependent steps: meant for the small and medium matrices of models and
scripts, not for n in the thousands.
"""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

from . import checks, config
from .creation import arange, eye
from .elementwise import broadcast_shapes, where
from .movement import cat
from .runtime import engine

if TYPE_CHECKING:
    from .tensor import Tensor

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


def _square(op: str, A: Tensor) -> None:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2] if A.ndim > 1 else ''} "
                           f"by {A.shape[-1] if A.ndim else ''} matrices (shape {tuple(A.shape)}, {A.dtype.name})")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point tensor as input, got {A.dtype.name} "
                           f"(shape {tuple(A.shape)})")


def _gauss_jordan(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Reduce [A | B] to [I | A^-1 B] with partial pivoting. Returns A^-1 B, the pivots
    (..., n) and the sign of the row permutation (...,). A zero pivot (its column is zero from
    its row down: A is singular) divides nothing, so the pivots after it stay finite."""
    n = A.shape[-1]
    M = cat([A, B], -1)
    rows = arange(n, device=A.device)
    column_of_rows = rows.unsqueeze(-1)
    sign = A.new_ones(tuple(A.shape[:-2]))
    pivots = [A.new_ones(tuple(A.shape[:-2]) + (0,))]  # no pivot at all for a 0 x 0 matrix
    for k in range(n):
        # the largest magnitude at or below row k in column k (rows above it are done)
        candidates = where(rows >= k, M[..., :, k].abs(), -1.0)
        p = candidates.argmax(-1, keepdim=True)  # (..., 1)
        order = where(rows == k, p, where(rows == p, k, rows))  # swap rows k and p
        M = M.gather(-2, order.unsqueeze(-1).expand(tuple(M.shape)))
        sign = where(p.squeeze(-1) != k, -sign, sign)
        pivot = M[..., k, k]
        pivots.append(pivot)
        row = M[..., k:k + 1, :] / where(pivot == 0, 1.0, pivot).unsqueeze(-1).unsqueeze(-1)
        M = where(column_of_rows == k, row, M - M[..., :, k:k + 1] * row)
    return M[..., n:], cat([pivots[0]] + [p.unsqueeze(-1) for p in pivots[1:]], -1), sign


def _ask_nonsingular(op: str, pivots: Tensor, what: str) -> None:
    """Raise (when a value next leaves the device) where a pivot is exactly 0, as LAPACK does."""
    columns = (arange(pivots.shape[-1], device=pivots.device) + 1).expand(tuple(pivots.shape))
    _now_if_eager(checks.first_where(
        op, (pivots == 0).node, columns.node, RuntimeError,
        f"{op}: The diagonal element {{index}} is zero, the {what} could not be completed because the input matrix "
        f"is singular"))


def _now_if_eager(check) -> None:
    """With LAZY=0 the op has run by the time its check is asked (the check reads its steps):
    realise the check now, so that the op raises, as every op does with LAZY=0."""
    if check is not None and not config.LAZY:
        engine.realize([check], check.device)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (or X A = B when not `left`); B is (..., n, k) or a vector (..., n)."""
    _square("linalg.solve", A)
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(A.shape)} and {tuple(B.shape)})")
    batch = broadcast_shapes("linalg.solve", tuple(A.shape[:-2]), tuple(rhs.shape[:-2]))
    X, pivots, _ = _gauss_jordan(A.expand(batch + tuple(A.shape[-2:])), rhs.expand(batch + tuple(rhs.shape[-2:])))
    _ask_nonsingular("linalg.solve", pivots, "solve")
    return X.squeeze(-1) if vector else X


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix."""
    _square("linalg.inv", A)
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(tuple(A.shape))
    X, pivots, _ = _gauss_jordan(A, identity)
    _ask_nonsingular("linalg.inv", pivots, "inversion")
    return X


def _pivots(op: str, A: Tensor) -> tuple[Tensor, Tensor]:
    _square(op, A)
    _, pivots, sign = _gauss_jordan(A, A[..., :, :0])
    return pivots, sign


def det(A: Tensor) -> Tensor:
    """The determinant: the pivots' product, signed by the row swaps (0 from a zero pivot on)."""
    pivots, sign = _pivots("linalg.det", A)
    return sign * pivots.prod(-1)


def slogdet(A: Tensor):
    """(sign, log|det|) without overflow: the log of each pivot's magnitude, summed."""
    pivots, sign = _pivots("linalg.slogdet", A)
    signs = sign * pivots.sign().prod(-1)
    return slogdet_result(signs, pivots.abs().log().sum(-1))


def logdet(A: Tensor) -> Tensor:
    """log(det A): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = slogdet(A)
    return where(sign < 0, float("nan"), logabs)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L lower-triangular with L L^T = A, for symmetric positive-definite A, column by column."""
    _square("linalg.cholesky", A)
    # the lower triangle is read (and mirrored), as LAPACK reads it; the gradient is that of
    # the symmetric part, spread over both triangles, as PyTorch's
    lower = A.tril() + A.tril(-1).mT
    symmetric = (A + A.mT) / 2
    A = lower.detach() + (symmetric - symmetric.detach())
    n = A.shape[-1]
    rows = arange(n, device=A.device)
    L = A.new_zeros(tuple(A.shape))
    diagonal = [A.new_ones(tuple(A.shape[:-2]) + (0,))]  # none for a 0 x 0 matrix
    for j in range(n):
        # column j below the diagonal, less what the columns before it account for
        left = (L * L[..., j:j + 1, :]).sum(-1)  # sum_k<j L[i, k] L[j, k] (later columns are 0)
        column = A[..., :, j] - left
        d = column[..., j:j + 1]
        diagonal.append(d)
        root = where(d > 0, d, 1.0).sqrt()  # the root of 1 where d is not positive: the check raises there
        value = where(rows == j, root, where(rows > j, column / root, 0.0))
        L = L + value.unsqueeze(-1) * (rows == j).to(A.dtype)
    minors = cat(diagonal, -1)
    order = (arange(n, device=A.device) + 1).expand(tuple(minors.shape))
    _now_if_eager(checks.first_where(
        "linalg.cholesky", (~(minors > 0)).node, order.node, RuntimeError,
        "linalg.cholesky: The factorization could not be completed because the input is not positive-definite "
        "(the leading minor of order {index} is not positive-definite)"))
    return L.mT if upper else L
