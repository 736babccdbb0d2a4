"""Triangular systems by substitution, as lazy tensor ops: solve_triangular and what is built
on it (triangular_solve, cholesky_solve, cholesky_inverse).

Row k of the solution is found at step k (from the top for a lower-triangular matrix, from
the bottom for an upper one) as one small product with the rows found before it: n dependent
steps, each a couple of fused kernels, with gradients from autograd through the steps. Only
the triangle asked for is read (and the diagonal not at all when `unitriangular`); a zero on
the diagonal gives inf and NaN, as LAPACK's trtrs does, not an error.
"""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

from .creation import arange, eye
from .elementwise import broadcast_shapes, where
from .elimination import float_matrices

if TYPE_CHECKING:
    from .tensor import Tensor

triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def _matrices(op: str, A: Tensor, B: Tensor, what: str = "A") -> None:
    """A square float A and a matrix B of A's dtype (both batched)."""
    float_matrices(op, A, square=True, what=what)
    float_matrices(op, B, what="B")
    if A.dtype != B.dtype:
        raise RuntimeError(f"{op}: Expected {what} and B to have the same dtype, but got {A.dtype.name} "
                           f"{tuple(A.shape)} and {B.dtype.name} {tuple(B.shape)}")


def _substitute(A: Tensor, B: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    """X with A X = B for triangular A (..., n, n) and B (..., n, k), batches broadcast."""
    n = A.shape[-1]
    batch = broadcast_shapes("linalg.solve_triangular", tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    # the other triangle is never read (it may hold anything, even NaN)
    A = (A.triu() if upper else A.tril()).expand(batch + (n, n))
    B = B.expand(batch + tuple(B.shape[-2:]))
    rows = arange(n, device=A.device).unsqueeze(-1)
    X = B.new_zeros(tuple(B.shape))
    for k in (reversed(range(n)) if upper else range(n)):
        # the rows of X not found yet are 0, so the product reads only the triangle's finished part
        row = B[..., k:k + 1, :] - A[..., k:k + 1, :] @ X
        if not unitriangular:
            row = row / A[..., k:k + 1, k:k + 1]
        X = where(rows == k, row, X)
    return X


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (X A = B when not `left`) for A upper- or lower-triangular."""
    _matrices("linalg.solve_triangular", A, B)
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(A.shape)} and {tuple(B.shape)})")
    return _substitute(A, B, upper, unitriangular)


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """torch.triangular_solve: (X with op(A) X = b, op transposing when `transpose`; a copy of A)."""
    _matrices("triangular_solve", A, b)
    coefficient = A.mT if transpose else A
    X = solve_triangular(coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_result(X, A.clone())


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with A X = B, given A's Cholesky factor L (A = L L^T, or U^T U when `upper`)."""
    _matrices("cholesky_solve", L, B, "L")
    lower = L.mT if upper else L
    return solve_triangular(lower.mT, solve_triangular(lower, B, upper=False), upper=True)


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """A^-1 from A's Cholesky factor L (A = L L^T, or U^T U when `upper`)."""
    _matrices("cholesky_inverse", L, L, "L")
    identity = eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(tuple(L.shape))
    return cholesky_solve(identity, L, upper)
