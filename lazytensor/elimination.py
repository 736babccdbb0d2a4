"""Linear systems by elimination, as lazy tensor ops: Gauss-Jordan elimination with partial
pivoting (solve, inv, det, slogdet) and the Cholesky factorisation. A singular or indefinite
matrix raises LinAlgError when a value is next read; the _ex forms return LAPACK's info.

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
from .ir import dtype as dtypes
from .movement import cat
from .runtime import engine

if TYPE_CHECKING:
    from .tensor import Tensor

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
inv_ex_result = namedtuple("inv_ex", ["inverse", "info"])
solve_ex_result = namedtuple("solve_ex", ["result", "info"])
cholesky_ex_result = namedtuple("cholesky_ex", ["L", "info"])


class LinAlgError(RuntimeError):
    """A matrix the factorisation cannot handle (singular, not positive-definite, a
    decomposition that did not converge): torch.linalg.LinAlgError, a RuntimeError."""


def float_matrices(op: str, A: Tensor, square: bool = False, what: str = "A") -> None:
    """Refuse anything but a batch of float matrices (square ones where asked)."""
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {what} must have at least 2 dimensions, got shape "
                           f"{tuple(A.shape)} ({A.dtype.name})")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {what} must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices (shape {tuple(A.shape)}, {A.dtype.name})")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point tensor as input, got {A.dtype.name} "
                           f"(shape {tuple(A.shape)})")


def pivot_row(M: Tensor, k: int, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Partial pivoting's step k: M with row k swapped for the row at or below it holding the
    largest magnitude in column k (the first of equals, as LAPACK's idamax), and that row (..., 1)."""
    candidates = where(rows >= k, M[..., :, k].abs(), -1.0)  # rows above k are done
    p = candidates.argmax(-1, keepdim=True)
    order = where(rows == k, p, where(rows == p, k, rows))
    return M.gather(-2, order.unsqueeze(-1).expand(tuple(M.shape))), p


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
        M, p = pivot_row(M, k, rows)
        sign = where(p.squeeze(-1) != k, -sign, sign)
        pivot = M[..., k, k]
        pivots.append(pivot)
        row = M[..., k:k + 1, :] / where(pivot == 0, 1.0, pivot).unsqueeze(-1).unsqueeze(-1)
        M = where(column_of_rows == k, row, M - M[..., :, k:k + 1] * row)
    return M[..., n:], cat([pivots[0]] + [p.unsqueeze(-1) for p in pivots[1:]], -1), sign


def _steps(failed: Tensor) -> Tensor:
    """1, 2, ..., n along the last dim of `failed`: the step numbers LAPACK reports."""
    return (arange(failed.shape[-1], device=failed.device) + 1).expand(tuple(failed.shape))


def first_failure(failed: Tensor) -> Tensor:
    """LAPACK's info (int32, one per matrix): the first step (from 1) where `failed` (..., n)
    holds, or 0 where it holds nowhere."""
    if failed.shape[-1] == 0:
        return failed.new_zeros(tuple(failed.shape[:-1])).to(dtypes.int32)
    past = failed.shape[-1] + 1
    first = where(failed, _steps(failed), past).amin(-1)
    return where(first == past, 0, first).to(dtypes.int32)


def ask(op: str, failed: Tensor, text: str) -> None:
    """Raise LinAlgError (when a value next leaves the device; at once with LAZY=0) where
    `failed` (..., n) holds; "{index}" in `text` names the first failing step, from 1."""
    now_if_eager(checks.first_where(op, failed.node, _steps(failed).node, LinAlgError, text))


def _ask_nonsingular(op: str, pivots: Tensor, what: str) -> None:
    """Raise (when a value next leaves the device) where a pivot is exactly 0, as LAPACK does."""
    ask(op, pivots == 0, f"{op}: The diagonal element {{index}} is zero, the {what} could not be completed because "
                         f"the input matrix is singular")


def now_if_eager(check) -> None:
    """With LAZY=0 the op has run by the time its check is asked (the check reads its steps):
    realise the check now, so that the op raises, as every op does with LAZY=0."""
    if check is not None and not config.LAZY:
        engine.realize([check], check.device)


def _solved(op: str, A: Tensor, B: Tensor, left: bool) -> tuple[Tensor, Tensor]:
    """X with A X = B (or X A = B when not `left`), and the pivots of A."""
    float_matrices(op, A, square=True)
    if not left:
        X, pivots = _solved(op, A.mT, B.mT, True)
        return X.mT, pivots
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(A.shape)} and {tuple(B.shape)})")
    batch = broadcast_shapes(op, tuple(A.shape[:-2]), tuple(rhs.shape[:-2]))
    X, pivots, _ = _gauss_jordan(A.expand(batch + tuple(A.shape[-2:])), rhs.expand(batch + tuple(rhs.shape[-2:])))
    return (X.squeeze(-1) if vector else X), pivots


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (or X A = B when not `left`); B is (..., n, k) or a vector (..., n)."""
    X, pivots = _solved("linalg.solve", A, B, left)
    _ask_nonsingular("linalg.solve", pivots, "solve")
    return X


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """solve, and LAPACK's info (the first zero pivot, from 1; 0 for none) instead of an error."""
    X, pivots = _solved("linalg.solve_ex", A, B, left)
    if check_errors:
        _ask_nonsingular("linalg.solve_ex", pivots, "solve")
    return solve_ex_result(X, first_failure(pivots == 0))


def _inverted(op: str, A: Tensor) -> tuple[Tensor, Tensor]:
    float_matrices(op, A, square=True)
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(tuple(A.shape))
    X, pivots, _ = _gauss_jordan(A, identity)
    return X, pivots


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix."""
    X, pivots = _inverted("linalg.inv", A)
    _ask_nonsingular("linalg.inv", pivots, "inversion")
    return X


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """inv, and LAPACK's info (the first zero pivot, from 1; 0 for none) instead of an error."""
    X, pivots = _inverted("linalg.inv_ex", A)
    if check_errors:
        _ask_nonsingular("linalg.inv_ex", pivots, "inversion")
    return inv_ex_result(X, first_failure(pivots == 0))


def _pivots(op: str, A: Tensor) -> tuple[Tensor, Tensor]:
    float_matrices(op, A, square=True)
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


def _cholesky(op: str, A: Tensor, upper: bool) -> tuple[Tensor, Tensor]:
    """L lower-triangular with L L^T = A (or its transpose, `upper`), column by column, and
    where each leading minor fails to be positive-definite."""
    float_matrices(op, A, square=True)
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
    return (L.mT if upper else L), ~(cat(diagonal, -1) > 0)


def _ask_definite(op: str, failed: Tensor) -> None:
    ask(op, failed, f"{op}: The factorization could not be completed because the input is not positive-definite "
                    f"(the leading minor of order {{index}} is not positive-definite)")


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L lower-triangular with L L^T = A, for symmetric positive-definite A."""
    L, failed = _cholesky("linalg.cholesky", A, upper)
    _ask_definite("linalg.cholesky", failed)
    return L


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """cholesky, and LAPACK's info (the order of the first leading minor that is not
    positive-definite; 0 for none) instead of an error."""
    L, failed = _cholesky("linalg.cholesky_ex", A, upper)
    if check_errors:
        _ask_definite("linalg.cholesky_ex", failed)
    return cholesky_ex_result(L, first_failure(failed))
