"""`lazytensor.linalg`: torch.linalg's namespace. The products, vector norms and tensor
solvers are here (built on lazytensor/products.py, reductions and the solvers, so they fuse and
have gradients like any other op); the solvers are lazytensor/elimination.py's, triangular.py's
and lu.py's, the matrix norms matrix_norms.py's, the exponential matrix_exp.py's, the
decompositions that LAPACK computes on the host spectral.py's, and what singular values give
pseudo_inverse.py's."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from . import products
from .elimination import (  # noqa: F401
    LinAlgError, cholesky, cholesky_ex, det, inv, inv_ex, slogdet, solve, solve_ex,
)
from .creation import arange, eye
from .elementwise import where
from .lu import lu, lu_factor, lu_factor_ex, lu_solve  # noqa: F401
from .matrix_exp import matrix_exp  # noqa: F401
from .pseudo_inverse import cond, lstsq, matrix_rank, pinv  # noqa: F401
from .matrix_norms import matrix_norm, nuclear_norm  # noqa: F401
from .reduce import _dims, vector_norm
from .spectral import eig, eigh, eigvals, eigvalsh, qr, svd, svdvals  # noqa: F401
from .triangular import solve_triangular  # noqa: F401

if TYPE_CHECKING:
    from .tensor import Tensor

matmul = products.matmul


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector norm over one dim (or over everything, ord None), a matrix norm over two."""
    dims = _dims(dim)
    if ord is None:
        return vector_norm(A, 2, dims, keepdim, dtype=dtype)
    if dims is None:
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: input must be 1-D or 2-D when ord is given and dim is None, got "
                               f"shape {tuple(A.shape)}")
        dims = tuple(range(A.ndim))
    if len(dims) == 1:
        return vector_norm(A, ord, dims, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dims, keepdim, dtype=dtype)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of x and y along `dim` (broadcast over the others)."""
    return (x * y).sum(dim)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along `dim` (broadcast over the others)."""
    return products.cross_along("linalg.cross", input, other, dim)


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices (the first may be a row vector, the last a column)."""
    if len(tensors) < 2:
        raise RuntimeError(f"linalg.multi_dot: expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        allowed = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t.ndim not in allowed:
            raise RuntimeError(f"linalg.multi_dot: tensor {i} must be {' or '.join(map(str, allowed))}-D, got shape "
                               f"{tuple(t.shape)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def matrix_power(A: Tensor, n: int) -> Tensor:
    """A @ A @ ... (n times) by repeated squaring; n = 0 gives the identity, n < 0 powers of
    the inverse."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be a batch of square matrices, got shape {tuple(A.shape)}")
    if n < 0:
        return matrix_power(inv(A), -n)
    result, square = None, A
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    if result is None:
        result = eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(tuple(A.shape)).clone()
    return result


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of the matrices over the last two dims (torch.linalg's defaults)."""
    return products.diagonal(A, offset, dim1, dim2)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """Increasing powers of x along a new last dim: x ** 0, x ** 1, ..., x ** (N - 1)."""
    return products.vander(x, N, increasing=True)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of A seen as a matrix from its first `ind` dims to the rest: the result, of
    shape A.shape[ind:] + A.shape[:ind], contracted with A gives the identity."""
    if ind <= 0:
        raise RuntimeError(f"linalg.tensorinv: Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(rows) != math.prod(cols):
        raise RuntimeError(f"linalg.tensorinv: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(cols)} != {math.prod(rows)} (shape "
                           f"{tuple(A.shape)}, ind {ind})")
    return inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(cols + rows)


def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B; `dims` are A's dims moved to its end first."""
    if dims is not None:
        moved = [A._dim(d, "linalg.tensorsolve") for d in dims]
        A = A.movedim(moved, list(range(A.ndim - len(moved), A.ndim)))
    solution = tuple(A.shape[B.ndim:])
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or math.prod(solution) != B.numel():
        raise RuntimeError(f"linalg.tensorsolve: Expected self to satisfy the requirement prod(result.shape) == "
                           f"prod(other.shape) with A's leading dims equal to other's shape, got shapes "
                           f"{tuple(A.shape)} and {tuple(B.shape)}")
    return solve(A.reshape(B.numel(), math.prod(solution)), B.reshape(-1)).reshape(solution)


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i being column i of
    A below the diagonal with a 1 on it (LAPACK's orgqr: Q from geqrf's packed reflectors)."""
    m, n = (A.shape[-2], A.shape[-1]) if A.ndim >= 2 else (0, 0)
    k = tau.shape[-1] if tau.ndim else 0
    if A.ndim < 2 or m < n or n < k or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.householder_product: expected A (..., m, n) with m >= n and tau (..., k) "
                           f"with k <= n and A's batch dims, got shapes {tuple(A.shape)} and {tuple(tau.shape)}")
    if A.dtype != tau.dtype or not A.dtype.is_floating_point:
        raise RuntimeError(f"torch.linalg.householder_product: tau dtype {tau.dtype.name} does not match input "
                           f"dtype {A.dtype.name} (both must be floating point)")
    rows = arange(m, device=A.device).unsqueeze(-1)
    Q = eye(m, n, dtype=A.dtype, device=A.device).expand(tuple(A.shape))
    for i in reversed(range(k)):
        v = where(rows == i, 1.0, where(rows > i, A[..., :, i:i + 1], 0.0))
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * v @ (v.mT @ Q)
    return Q
