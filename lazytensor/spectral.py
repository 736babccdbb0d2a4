"""The decompositions that iterate to convergence or need orthogonal factors: svd, eigh and
qr, by LAPACK on the host (NumPy's), with PyTorch's analytic gradients.

Each realises its input, calls numpy.linalg in the input's dtype and returns tensors on the
input's device, as PyTorch's LAPACK calls do; inside `lt.jit` that host read raises (a replay
could not redo it). The backward of each is a custom autograd Function whose formulas are
PyTorch's (svd_backward, linalg_eig_backward for Hermitian input, linalg_qr_backward), built
from lazy ops, so the gradient itself is lazy. As in PyTorch, the factors are unique only up
to signs (and rotations within repeated singular values or eigenvalues): gradients are
meaningful for functions that do not depend on that choice.
"""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np

from .autograd.function import Function
from .capture import refuse_host_read
from .creation import eye, tensor
from .elimination import LinAlgError, float_matrices
from .movement import cat
from .triangular import solve_triangular

if TYPE_CHECKING:
    from .tensor import Tensor

svd_result = namedtuple("svd", ["U", "S", "Vh"])
old_svd_result = namedtuple("svd", ["U", "S", "V"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
qr_result = namedtuple("qr", ["Q", "R"])

_QR_MODES = ("reduced", "complete", "r")


def lapack_matrices(op: str, A: Tensor, square: bool = False) -> None:
    """A batch of float32 or float64 matrices (square ones where asked): what LAPACK takes."""
    float_matrices(op, A, square)
    if A.dtype.itemsize < 4:
        raise RuntimeError(f"{op}: Expected a float32 or float64 tensor as input, got {A.dtype.name} "
                           f"(shape {tuple(A.shape)})")


def _on_host(op: str, A: Tensor) -> np.ndarray:
    refuse_host_read(f"{op} (a LAPACK call on the host)")
    return A.detach().numpy()


def _lapack(op: str, call, *args):
    """numpy.linalg's call; its failure to converge is PyTorch's LinAlgError."""
    try:
        return call(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: The algorithm failed to converge because the input matrix contained non-finite "
                          f"values (or is too ill-conditioned)") from None


def _like(A: Tensor, array: np.ndarray) -> Tensor:
    return tensor(np.ascontiguousarray(array), dtype=A.dtype, device=A.device)


def _diag(v: Tensor) -> Tensor:
    """The batch of square matrices with v (..., k) on their diagonals."""
    return v.unsqueeze(-1) * eye(v.shape[-1], dtype=v.dtype, device=v.device)


def _skew(X: Tensor) -> Tensor:
    return X - X.mT


def _gaps(values: Tensor) -> Tensor:
    """E[i, j] = values[j] - values[i], with 1 on the diagonal (where the numerators are 0)."""
    return values.unsqueeze(-2) - values.unsqueeze(-1) + eye(values.shape[-1], dtype=values.dtype,
                                                             device=values.device)


class _SVD(Function):
    @staticmethod
    def forward(ctx, A, full_matrices):
        ctx.set_materialize_grads(False)
        U, S, Vh = _lapack("linalg.svd", np.linalg.svd, _on_host("linalg.svd", A), full_matrices)
        ctx.full = full_matrices
        out = _like(A, U), _like(A, S), _like(A, Vh)
        ctx.save_for_backward(*out)
        return out

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        k = S.shape[-1]
        if ctx.full:  # the columns past min(m, n) are arbitrary: only the first k count
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :, :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        return _svd_backward(gU, gS, gVh, U, S, Vh), None


def _svd_backward(gU, gS, gVh, U: Tensor, S: Tensor, Vh: Tensor) -> Tensor:
    """PyTorch's svd_backward for real matrices."""
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        return None if gS is None else (U * gS.unsqueeze(-2)) @ Vh
    inner = 0
    if gU is not None:
        inner = _skew(U.mT @ gU) * S.unsqueeze(-2)
    if gVh is not None:
        inner = inner + S.unsqueeze(-1) * _skew(Vh @ gVh.mT)
    inner = inner / _gaps(S * S)
    if gS is not None:
        inner = inner + _diag(gS)
    if m > n and gU is not None:  # the part of gU outside U's span
        spill = gU / S.unsqueeze(-2)
        return (U @ inner + spill - U @ (U.mT @ spill)) @ Vh
    if m < n and gVh is not None:
        spill = gVh / S.unsqueeze(-1)
        return U @ (inner @ Vh + spill - (spill @ Vh.mT) @ Vh)
    return U @ inner @ Vh


def svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; U and Vh square when `full_matrices`."""
    lapack_matrices("linalg.svd", A)
    if driver is not None:
        raise RuntimeError(f"linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER "
                           f"backend (got driver={driver!r})")
    return svd_result(*_SVD.apply(A, full_matrices))


def svdvals(A: Tensor, *, driver=None) -> Tensor:
    """The singular values, descending."""
    lapack_matrices("linalg.svdvals", A)
    return svd(A, full_matrices=False, driver=driver).S


def svd_old(input: Tensor, some: bool = True, compute_uv: bool = True):
    """torch.svd: (U, S, V), V not transposed; without `compute_uv`, U and V are zeros."""
    lapack_matrices("svd", input)
    if not compute_uv:
        m, n = input.shape[-2], input.shape[-1]
        batch = tuple(input.shape[:-2])
        return old_svd_result(input.new_zeros(batch + (m, m)), svdvals(input), input.new_zeros(batch + (n, n)))
    U, S, Vh = svd(input, full_matrices=not some)
    return old_svd_result(U, S, Vh.mT)


class _Eigh(Function):
    @staticmethod
    def forward(ctx, A, UPLO):
        ctx.set_materialize_grads(False)
        values, vectors = _lapack("linalg.eigh", np.linalg.eigh, _on_host("linalg.eigh", A), UPLO)
        out = _like(A, values), _like(A, vectors)
        ctx.save_for_backward(*out)
        return out

    @staticmethod
    def backward(ctx, gL, gV):
        """PyTorch's linalg_eig_backward for symmetric matrices."""
        L, V = ctx.saved_tensors
        inner = 0
        if gV is not None:
            inner = _skew(V.mT @ gV) / 2 / _gaps(L)
        if gL is not None:
            inner = inner + _diag(gL)
        return V @ inner @ V.mT, None


def _uplo(op: str, UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO!r}")
    return UPLO


def eigh(A: Tensor, UPLO: str = "L"):
    """(eigenvalues ascending, orthonormal eigenvectors as columns) of symmetric A, from the
    triangle UPLO names."""
    lapack_matrices("linalg.eigh", A, square=True)
    return eigh_result(*_Eigh.apply(A, _uplo("linalg.eigh", UPLO)))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of symmetric A, ascending."""
    lapack_matrices("linalg.eigvalsh", A, square=True)
    return eigh(A, UPLO).eigenvalues


class _QR(Function):
    @staticmethod
    def forward(ctx, A, mode):
        ctx.set_materialize_grads(False)
        ctx.mode = mode
        host = _on_host("linalg.qr", A)
        if mode == "r":
            R = _lapack("linalg.qr", np.linalg.qr, host, "r")
            out = A.new_zeros((0,)), _like(A, R)
        else:
            Q, R = _lapack("linalg.qr", np.linalg.qr, host, mode)
            out = _like(A, Q), _like(A, R)
        ctx.save_for_backward(*out)
        return out

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        gQ = Q.new_zeros(tuple(Q.shape)) if gQ is None else gQ
        gR = R.new_zeros(tuple(R.shape)) if gR is None else gR
        if m >= n:
            return _qr_backward(gQ, gR, Q, R), None
        # A = [X | Y] with R = [U | D]: X = Q U is a square QR, Y = Q D
        U, D, gU, gD = R[..., :, :m], R[..., :, m:], gR[..., :, :m], gR[..., :, m:]
        gX = _qr_backward(gQ + (Q @ D) @ gD.mT, gU, Q, U)
        return cat([gX, Q @ gD], -1), None


def _qr_backward(gQ: Tensor, gR: Tensor, Q: Tensor, R: Tensor) -> Tensor:
    """The gradient of a tall (or square) reduced QR: (gQ + Q copyltu(M)) R^-T with
    M = R gR^T - gQ^T Q (PyTorch's linalg_qr_backward, m >= n)."""
    M = R @ gR.mT - gQ.mT @ Q
    mirrored = M.tril() + M.tril(-1).mT
    return solve_triangular(R.mT, gQ + Q @ mirrored, upper=False, left=False)


def qr(A: Tensor, mode: str = "reduced"):
    """(Q, R) with A = Q R, Q orthonormal columns, R upper-triangular; mode 'complete' makes Q
    square, mode 'r' computes R alone (Q empty)."""
    if mode not in _QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete' (shape {tuple(A.shape)})")
    lapack_matrices("linalg.qr", A)
    return qr_result(*_QR.apply(A, mode))


def qr_old(input: Tensor, some: bool = True):
    """torch.qr: the reduced factorisation, or the complete one when not `some`."""
    return qr(input, "reduced" if some else "complete")


def eig(A: Tensor, *args, **kwargs):
    """Refused: a general matrix's eigen decomposition is complex."""
    raise NotImplementedError(f"linalg.eig: the eigenvalues and eigenvectors of a general matrix are complex, and "
                              f"lazytensor has no complex dtype (input shape {tuple(A.shape)}, {A.dtype.name}); "
                              f"for a symmetric matrix use linalg.eigh")


def eigvals(A: Tensor, *args, **kwargs):
    """Refused: a general matrix's eigenvalues are complex."""
    raise NotImplementedError(f"linalg.eigvals: the eigenvalues of a general matrix are complex, and lazytensor has "
                              f"no complex dtype (input shape {tuple(A.shape)}, {A.dtype.name}); for a symmetric "
                              f"matrix use linalg.eigvalsh")
