"""The matrix norms: Frobenius and the largest or smallest absolute row or column sums by
reductions, the nuclear and spectral norms from the singular values (spectral.py)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .reduce import float_input, vector_norm
from .reduce import norm as vector_norms
from .spectral import svdvals

if TYPE_CHECKING:
    from .tensor import Tensor


# ord -> (the reduction of absolute sums, the axis summed first, as an offset into `dim`)
_MATRIX_ORDS = {math.inf: ("amax", 1), -math.inf: ("amin", 1), 1: ("amax", 0), -1: ("amin", 0)}


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The Frobenius norm, the largest (smallest) absolute row sum (inf, -inf) or column sum
    (1, -1), the nuclear norm ('nuc') or the largest (smallest) singular value (2, -2) of the
    matrices over the two dims `dim`."""
    A = float_input("matrix_norm", A, dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got shape "
                           f"{tuple(A.shape)}")
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))} (input shape "
                           f"{tuple(A.shape)})")
    rows, cols = (A._dim(d, "matrix_norm") for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in _SPECTRAL_ORDS:
        return _spectral_norm(A, ord, rows, cols, keepdim)
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord!r} not supported (supported: 'fro', 'nuc', inf, -inf, 1, "
                           f"-1, 2, -2), input shape {tuple(A.shape)}")
    peak, first = _MATRIX_ORDS[ord]
    summed, other = (cols, rows) if first else (rows, cols)
    sums = A.abs().sum(summed, keepdim=True)
    if sums.shape[other] == 0 and peak == "amax":  # the largest of no sums of magnitudes: 0, as torch
        out = sums.sum(other, keepdim=True)
    else:
        out = getattr(sums, peak)(other, keepdim=True)
    return out if keepdim else out.squeeze(max(rows, cols)).squeeze(min(rows, cols))


# ord -> how the singular values make the norm
_SPECTRAL_ORDS = {"nuc": "sum", 2: "amax", -2: "amin"}


def _spectral_norm(A: Tensor, ord, rows: int, cols: int, keepdim: bool) -> Tensor:
    """The nuclear norm (the singular values' sum) or the largest (smallest) singular value."""
    S = svdvals(A.movedim((rows, cols), (-2, -1)))
    reduction = _SPECTRAL_ORDS[ord]
    if S.shape[-1] == 0 and reduction == "amax":  # the largest of none: 0, as torch
        reduction = "sum"
    out = getattr(S, reduction)(-1)
    if keepdim:
        for d in sorted((rows, cols)):
            out = out.unsqueeze(d)
    return out


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch.norm: the vector norm of order p over `dim` (reduce.norm), or the nuclear norm
    (p 'nuc') over the two dims `dim` (all of input's, when None)."""
    if p != "nuc":
        return vector_norms(input, p, dim, keepdim, dtype)
    dims = tuple(range(input.ndim)) if dim is None else dim
    return matrix_norm(input, "nuc", dims, keepdim, dtype=dtype)


def nuclear_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """torch.nuclear_norm: the sum of the singular values over the two dims `dim`."""
    return matrix_norm(input, "nuc", dim, keepdim)
