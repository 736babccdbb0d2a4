"""What the singular values give: pinv, matrix_rank, cond and lstsq (least squares by the
pseudo-inverse), built on lazytensor/spectral.py's svd and eigh, so they have its gradients."""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

from .autograd.function import Function
from .elementwise import maximum, where
from .elimination import inv_ex
from .ir import dtype as dtypes
from .matrix_norms import matrix_norm
from .spectral import eigh, lapack_matrices, svd, svdvals
from .type_info import finfo

if TYPE_CHECKING:
    from .tensor import Tensor

lstsq_result = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _threshold(A: Tensor, S: Tensor, atol, rtol) -> Tensor:
    """The magnitude at or below which a singular value counts as 0 (..., 1): max(atol, rtol *
    the largest), rtol eps * max(m, n) by default, or 0 when a positive atol is given alone.
    Either tolerance is a number or a tensor of one per matrix."""
    largest = S.amax(-1, keepdim=True) if S.shape[-1] else S.sum(-1, keepdim=True)
    if rtol is None:
        default = finfo(A.dtype).eps * max(A.shape[-2], A.shape[-1])
        rtol = default if atol is None else where(_per_matrix(A, atol) > 0, 0.0, default)
    relative = _per_matrix(A, rtol) * largest
    return relative if atol is None else maximum(relative, _per_matrix(A, atol))


def _per_matrix(A: Tensor, tolerance) -> Tensor:
    """A tolerance (a number, or a tensor (...,) of one per matrix) as (..., 1), to meet the
    singular values."""
    return (tolerance if hasattr(tolerance, "node") else A.new_tensor(tolerance)).unsqueeze(-1)


def _pseudo_inverse(U: Tensor, S: Tensor, Vh: Tensor, kept: Tensor) -> Tensor:
    """V diag(1 / S) U^T over the singular values `kept` (no 1 / 0 where one is not)."""
    inverted = where(kept, 1 / where(kept, S, 1.0), 0.0)
    return (Vh.mT * inverted.unsqueeze(-2)) @ U.mT


def _spectrum(op: str, A: Tensor, hermitian: bool):
    """(U, the singular values S (..., k), Vh), S descending; for symmetric A (`hermitian`)
    from eigh, with the eigenvalues' signs moved onto Vh."""
    lapack_matrices(op, A, square=hermitian)
    if not hermitian:
        return svd(A, full_matrices=False)
    values, vectors = eigh(A)
    return vectors, values.abs(), (vectors * values.sign().unsqueeze(-2)).mT


class _Pinv(Function):
    """The pseudo-inverse's value from the singular values, its gradient PyTorch's pinv_backward
    (that of the general pseudo-inverse, also for a symmetric input)."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        U, S, Vh = _spectrum("linalg.pinv", A, hermitian)
        P = _pseudo_inverse(U, S, Vh, S > _threshold(A, S, atol, rtol))
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, grad):
        A, P = ctx.saved_tensors
        if A.shape[-2] <= A.shape[-1]:
            K = grad.mT @ P
            KPt = K @ P.mT
            gA = -(P @ K).mT + KPt - (A @ P) @ KPt + (P.mT @ P) @ (grad.mT - K @ A)
        else:
            K = P @ grad.mT
            PtK = P.mT @ K
            gA = -(K @ P).mT + PtK - (PtK @ P) @ A + ((grad.mT - A @ K) @ P) @ P.mT
        return gA, None, None, None


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse: V diag(1 / S) U^T over the singular values above the
    tolerance (see matrix_rank)."""
    return _Pinv.apply(A, atol, rtol, hermitian)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: pinv with the relative tolerance `rcond`."""
    return pinv(input, rtol=rcond)


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None) -> Tensor:
    """The number of singular values above max(atol, rtol * the largest) (int64); `tol` is
    the older spelling of atol (with rtol 0)."""
    if tol is not None:
        atol, rtol = tol, 0.0
    _, S, _ = _spectrum("linalg.matrix_rank", A, hermitian)
    return (S > _threshold(A, S, atol, rtol)).sum(-1)


def cond(A: Tensor, p=None) -> Tensor:
    """The condition number in the `p` norm: largest over smallest singular value for p None or
    2 (the reverse for -2); ||A|| ||A^-1|| for the other norms (inf where A is singular)."""
    if p in (None, 2, -2):
        lapack_matrices("linalg.cond", A)
        S = svdvals(A)
        if S.shape[-1] == 0:
            return S.sum(-1)
        largest, smallest = S[..., 0], S[..., -1]
        return largest / smallest if p != -2 else smallest / largest
    lapack_matrices(f"linalg.cond(ord={p})", A, square=True)
    inverse, info = inv_ex(A)
    value = matrix_norm(A, p) * matrix_norm(inverse, p)
    return where(info > 0, float("inf"), value)


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None):
    """The least-squares solution X of A X = B (the least-norm one where A is rank-deficient),
    with LAPACK's drivers' extras: residuals (gels, gelsd, gelss, for tall full-rank A), rank
    (all but gels) and singular values (gelsd, gelss); empty where the driver gives none."""
    lapack_matrices("linalg.lstsq", A)
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"got {driver!r}")
    if A.dtype != B.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got input's "
                           f"dtype {A.dtype.name} and other's dtype {B.dtype.name} (shapes {tuple(A.shape)} and "
                           f"{tuple(B.shape)})")
    if not 0 <= A.ndim - B.ndim <= 1:
        raise RuntimeError(f"torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           f"(input.dim() - other.dim()) <= 1, got shapes {tuple(A.shape)} and {tuple(B.shape)}")
    vector = B.ndim == A.ndim - 1
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.ndim < 2 or rhs.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got shapes "
                           f"{tuple(A.shape)} and {tuple(B.shape)}")
    m, n = A.shape[-2], A.shape[-1]
    U, S, Vh = svd(A, full_matrices=False)
    kept = S > _threshold(A, S, None, rcond)
    X = _pseudo_inverse(U, S, Vh, kept) @ rhs
    rank = kept.sum(-1)
    empty = A.new_zeros((0,))
    residuals = empty
    if driver != "gelsy" and m > n and (driver == "gels" or bool((rank == n).all())):
        residuals = ((A @ X - rhs) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    return lstsq_result(X.squeeze(-1) if vector else X, residuals,
                        rank if driver != "gels" else empty.to(dtypes.int64),
                        S if driver in ("gelsd", "gelss") else empty)
