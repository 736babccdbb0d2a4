"""parametrizations.orthogonal, as PyTorch's: a weight (or batch of them) kept orthogonal by
a map from unconstrained parameters, matrix_exp or cayley of a skew-symmetric matrix, or a
product of Householder reflections.

With use_trivialization (the default) the map's result is multiplied by the buffer `base`,
an orthogonal matrix: assigning Q to the weight stores Q (made orthogonal through QR if it is
not) as `base` and gives the map the parameters whose image is the identity, so `.weight` is
at first the Q factor of the original weight (signed so that R has a positive diagonal)."""
from __future__ import annotations

from enum import Enum

from ...autodiff.grad_mode import no_grad
from ...creation import arange, eye, zeros_like
from ...elementwise import allclose, where
from ...elimination import solve
from ...linalg import householder_product, matrix_exp, qr
from ...movement import cat, stack
from ...random import randn
from ...ir import dtype as D
from ...tensor import Tensor
from ...type_info import finfo
from ..module import Module
from . import parametrize


class _OrthMaps(Enum):
    matrix_exp = "matrix_exp"
    cayley = "cayley"
    householder = "householder"


def _skew_map(X: Tensor, kind: _OrthMaps) -> Tensor:
    """matrix_exp or cayley of the skew-symmetric matrix from X's lower triangle (n x k, n >= k,
    embedded into n x n): the first k columns of the orthogonal result."""
    n, k = X.shape[-2], X.shape[-1]
    X = X.tril()
    if n != k:
        X = cat([X, X.new_zeros((n, n - k)).expand(*X.shape[:-2], n, n - k)], dim=-1)
    A = X - X.mH
    if kind is _OrthMaps.matrix_exp:
        Q = matrix_exp(A)
    else:  # the Cayley retraction (I + A/2)(I - A/2)^-1
        identity = eye(n, dtype=A.dtype, device=A.device)
        Q = solve(identity - 0.5 * A, identity + 0.5 * A)
    return Q[..., :k] if n != k else Q


def _householder_map(X: Tensor) -> Tensor:
    """The reflections from X's strict lower triangle; X's diagonal (+-1) signs the columns and
    gets no gradient."""
    A = X.tril(diagonal=-1)
    tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
    Q = householder_product(A, tau)
    return Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)


def _is_orthogonal(Q: Tensor) -> bool:
    n, k = Q.shape[-2], Q.shape[-1]
    identity = eye(k, dtype=Q.dtype, device=Q.device)
    return allclose(Q.mH @ Q, identity, atol=10.0 * n * finfo(Q.dtype).eps)


def _reflectors(Q: Tensor) -> tuple[Tensor, Tensor]:
    """LAPACK's geqrf of each tall matrix, unblocked (dgeqr2 with dlarfg's reflector): R on and
    above the diagonal, each reflector's vector below it (its leading 1 implied), and tau."""
    n, k = Q.shape[-2], Q.shape[-1]
    rows = arange(n, device=Q.device)
    A, taus = Q, []
    for j in range(k):
        column = A[..., :, j]
        alpha = column[..., j]
        below = where(rows > j, column, 0.0)
        rest = below.square().sum(-1).sqrt()
        beta = -(alpha.square() + rest.square()).sqrt() * where(alpha < 0, -1.0, 1.0)
        reflect = rest != 0  # else H = I (tau 0) and the column stays
        tau = where(reflect, (beta - alpha) / beta, 0.0)
        v = where(rows > j, below / (alpha - beta).unsqueeze(-1), (rows == j).to(Q.dtype))
        v = where(reflect.unsqueeze(-1), v, (rows == j).to(Q.dtype))
        later = arange(k, device=Q.device) > j  # H applied to the columns right of j
        update = tau.unsqueeze(-1).unsqueeze(-1) * v.unsqueeze(-1) * (v.unsqueeze(-1) * A).sum(-2, keepdim=True)
        A = where(later, A - update, A)
        packed = where(rows > j, where(reflect.unsqueeze(-1), v, column), where(rows == j, where(
            reflect, beta, alpha).unsqueeze(-1), column))
        A = where(arange(k, device=Q.device) == j, packed.unsqueeze(-1), A)
        taus.append(tau)
    return A, stack(taus, -1)


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR (A tall) with R's diagonal non-negative."""
    Q, R = qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        transposed = X.shape[-2] < X.shape[-1]
        if transposed:
            X = X.mT
        if self.orthogonal_map is _OrthMaps.householder:
            Q = _householder_map(X)
        else:
            Q = _skew_map(X, self.orthogonal_map)
        if "base" in self._buffers:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q: Tensor) -> Tensor:
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape "
                             f"{tuple(Q.shape)}.")
        Q_init = Q
        n, k = Q.shape[-2], Q.shape[-1]
        if n < k:
            Q, n, k = Q.mT, k, n
        if "base" not in self._buffers:
            if self.orthogonal_map is not _OrthMaps.householder:  # (registration keeps the weight then)
                raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                          "parametrizations when use_trivialization=False.")
            # the reflectors of Q's QR, and the diagonal signs of an R made positive (where a
            # reflection was skipped, tau 0, the column is not flipped: -1 there)
            A, tau = _reflectors(Q)
            signs = A.diagonal(dim1=-2, dim2=-1).sign() * where(tau == 0, -1.0, 1.0)
            A = where(eye(n, k, dtype=D.bool_, device=A.device), signs.unsqueeze(-2), A)
            return A.mT if Q_init.shape[-2] < Q_init.shape[-1] else A
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:  # complete Q into an n x n orthogonal matrix
            extra = randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype, device=Q.device)
            Q = _make_orthogonal(cat([Q, extra], dim=-1))
        self.base = Q
        # -I: householder(-I) and the skew maps of -I are all the identity
        neg_identity = zeros_like(Q_init)
        neg_identity.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
        return neg_identity


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Keep module.<name> (a matrix or batch of matrices) orthogonal through `orthogonal_map`:
    'matrix_exp' (square weights' default), 'cayley' or 'householder' (the others' default)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _OrthMaps.__members__:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: '
                         f'{orthogonal_map}')
    orth = _Orthogonal(weight, _OrthMaps[orthogonal_map], use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
