"""The LU factorisation with partial pivoting (A = P L U), as lazy tensor ops, in LAPACK's
packed form (getrf): lu_factor, lu_factor_ex, lu, lu_unpack, lu_solve.

Step k swaps in the row holding column k's largest magnitude (elimination.pivot_row, the
pivot choice Gauss-Jordan makes) and eliminates below it: min(m, n) dependent steps, batched,
with gradients from autograd through the steps (the pivot choice is an index, as LAPACK's).
"""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

from .creation import arange, eye
from .elementwise import where
from .elimination import ask, first_failure, float_matrices, pivot_row
from .ir import dtype as dtypes
from .movement import cat
from .triangular import solve_triangular

if TYPE_CHECKING:
    from .tensor import Tensor

lu_factor_result = namedtuple("lu_factor", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
lu_result = namedtuple("lu", ["P", "L", "U"])


def _factor(op: str, A: Tensor, pivot: bool) -> tuple[Tensor, Tensor, Tensor]:
    """LAPACK's packed LU of A (..., m, n), its 1-based int32 pivots (..., min(m, n)) and where
    each pivot is 0 (U is singular there)."""
    float_matrices(op, A)
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")
    m, n = A.shape[-2], A.shape[-1]
    rows, right = arange(m, device=A.device), arange(n, device=A.device)
    below = rows.unsqueeze(-1)
    M, swaps, pivots = A, [], []
    for k in range(min(m, n)):
        M, p = pivot_row(M, k, rows)
        swaps.append(p)
        pivot = M[..., k:k + 1, k:k + 1]
        pivots.append(pivot[..., 0])
        # a zero pivot's column is zero below it: it scales nothing (LAPACK skips it)
        multipliers = M[..., :, k:k + 1] / where(pivot == 0, 1.0, pivot)
        update = where((below > k) & (right > k), M - multipliers * M[..., k:k + 1, :], M)
        M = where((below > k) & (right == k), multipliers, update)
    empty = A.new_zeros(tuple(A.shape[:-2]) + (0,))
    ipiv = cat([empty.to(dtypes.int64)] + swaps, -1) + 1
    return M, ipiv.to(dtypes.int32), cat([empty] + pivots, -1) == 0


def _ask_invertible(op: str, zero: Tensor) -> None:
    ask(op, zero, f"torch.{op}: U[{{index}},{{index}}] is zero and using it on lu_solve would result in a division "
                  f"by zero. If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
                  f"or linalg.lu_factor_ex(A, pivot)")


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """(LU, pivots, info): info is the first zero on U's diagonal, from 1 (0 for none)."""
    LU, pivots, zero = _factor("linalg.lu_factor_ex", A, pivot)
    if check_errors:
        _ask_invertible("linalg.lu_factor_ex", zero)
    return lu_factor_ex_result(LU, pivots, first_failure(zero))


def lu_factor(A: Tensor, *, pivot: bool = True):
    """(LU, pivots) of A = P L U; a zero on U's diagonal raises, as torch's does."""
    LU, pivots, zero = _factor("linalg.lu_factor", A, pivot)
    _ask_invertible("linalg.lu_factor", zero)
    return lu_factor_result(LU, pivots)


def _permutation(pivots: Tensor, m: int) -> Tensor:
    """The rows of A that the rows of L U hold (int64, (..., m)): LAPACK's swaps, in order."""
    index = arange(m, device=pivots.device)
    perm = index.expand(tuple(pivots.shape[:-1]) + (m,))
    swaps = pivots.to(dtypes.int64) - 1
    for i in range(pivots.shape[-1]):
        p = swaps[..., i:i + 1]
        perm = where(index == i, perm.gather(-1, p), where(index == p, perm[..., i:i + 1], perm))
    return perm


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True):
    """(P, L, U) from lu_factor's packed form; a part not asked for is an empty tensor."""
    float_matrices("lu_unpack", LU_data)
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    if tuple(LU_pivots.shape) != tuple(LU_data.shape[:-2]) + (k,) or LU_pivots.dtype.is_floating_point:
        raise RuntimeError(f"lu_unpack: LU_pivots must be an integer tensor of shape "
                           f"{tuple(LU_data.shape[:-2]) + (k,)} "
                           f"for LU_data of shape {tuple(LU_data.shape)}, got {LU_pivots.dtype.name} "
                           f"{tuple(LU_pivots.shape)}")
    empty = LU_data.new_zeros((0,))
    P = empty
    if unpack_pivots:
        perm = _permutation(LU_pivots, m)
        P = (perm.unsqueeze(-2) == arange(m, device=LU_data.device).unsqueeze(-1)).to(LU_data.dtype)
    L = U = empty
    if unpack_data:
        identity = eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        L = LU_data[..., :, :k].tril(-1) + identity
        U = LU_data[..., :k, :].triu()
    return lu_result(P, L, U)


def lu(A: Tensor, *, pivot: bool = True):
    """(P, L, U) with A = P L U: P a permutation, L unit lower-, U upper-triangular."""
    LU, pivots, _ = _factor("linalg.lu", A, pivot)
    return lu_unpack(LU, pivots)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """X with A X = B (A^T X = B when `adjoint`; X A = B when not `left`), A given by lu_factor."""
    float_matrices("linalg.lu_solve", LU, square=True, what="LU")
    float_matrices("linalg.lu_solve", B, what="B")
    if not left:  # X A = B is A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    if B.shape[-2] != LU.shape[-1]:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(LU.shape)} and {tuple(B.shape)})")
    P, L, U = lu_unpack(LU, pivots)
    if adjoint:  # U^T L^T P^T X = B
        Y = solve_triangular(L.mT, solve_triangular(U.mT, B, upper=False), upper=True, unitriangular=True)
        return P @ Y
    Y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, Y, upper=True)
