"""`lazytensor.linalg`: the torch.linalg names that are products and norms (built on
lazytensor/products.py and reductions, so they fuse and have gradients like any other op).
The solvers (inv, det, slogdet, solve, cholesky) are lazytensor/elimination.py's; svd, qr and
eigh are not there."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from . import products
from .elimination import cholesky, det, inv, slogdet, solve  # noqa: F401
from .creation import eye
from .reduce import _dims, float_input, vector_norm

if TYPE_CHECKING:
    from .tensor import Tensor

matmul = products.matmul


# ord -> (the reduction of absolute sums, the axis summed first, as an offset into `dim`)
_MATRIX_ORDS = {math.inf: ("amax", 1), -math.inf: ("amin", 1), 1: ("amax", 0), -1: ("amin", 0)}


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The Frobenius norm, or the largest (smallest) absolute row sum (inf, -inf) or column sum
    (1, -1), of the matrices over the two dims `dim`."""
    A = float_input("matrix_norm", A, dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got shape "
                           f"{tuple(A.shape)}")
    rows, cols = (A._dim(d, "matrix_norm") for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: ord {ord!r} is not supported (supported: 'fro', inf, -inf, 1, -1; "
                           f"'nuc', 2 and -2 need singular values), input shape {tuple(A.shape)}")
    peak, first = _MATRIX_ORDS[ord]
    summed, other = (cols, rows) if first else (rows, cols)
    sums = A.abs().sum(summed, keepdim=True)
    if sums.shape[other] == 0 and peak == "amax":  # the largest of no sums of magnitudes: 0, as torch
        out = sums.sum(other, keepdim=True)
    else:
        out = getattr(sums, peak)(other, keepdim=True)
    return out if keepdim else out.squeeze(max(rows, cols)).squeeze(min(rows, cols))


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
