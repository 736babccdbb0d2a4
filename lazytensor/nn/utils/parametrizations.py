"""torch.nn.utils.parametrizations: weight_norm, spectral_norm and orthogonal as
parametrizations (the weight recomputed from `parametrizations.weight.original*` at each read)."""
from __future__ import annotations

from ...autodiff.grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..module import Module
from . import parametrize
from .orthogonal import orthogonal  # noqa: F401  (nn/utils/orthogonal.py)
from .weight_norm import _norm_except_dim

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


def _wrap_dim(dim: int | None, ndim: int, op: str) -> int:
    """-1 (or None) names the whole tensor, as in PyTorch's weight norm; other dims wrap."""
    if dim is None or dim == -1:
        return -1
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a weight of {ndim} dimensions")
    return dim % ndim


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, _wrap_dim(self.dim, weight_v.ndim, "weight_norm")))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, _wrap_dim(self.dim, weight.ndim, "weight_norm")), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """module.<name> = g * v / ||v|| with g = original0 and v = original1."""
    if name not in module._parameters and not parametrize.is_parametrized(module, name):
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter or parametrized tensor {name!r}")
    _wrap_dim(dim, getattr(module, name).ndim, "weight_norm")
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


def reshape_weight_to_matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as (size of dim, everything else): the matrix whose spectral norm is taken."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


class _SpectralNorm(Module):
    """weight / sigma, sigma from power iteration on buffers _u, _v (one step per training read)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape {tuple(weight.shape)}")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.dim = dim % max(ndim, 1)
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = reshape_weight_to_matrix(weight.detach(), self.dim)
            h, w = mat.shape
            u = weight.new_empty(h).normal_(0, 1)
            v = weight.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", normalize(u, dim=0, eps=eps))
            self.register_buffer("_v", normalize(v, dim=0, eps=eps))
            self._power_method(mat, 15)

    def _power_method(self, mat: Tensor, iterations: int) -> None:
        with no_grad():
            for _ in range(iterations):
                self._u.copy_(normalize(mat.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(normalize(mat.H.mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / u.dot(mat.mv(v))

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def _default_dim(module: Module) -> int:
    """Transposed convolutions keep their output channels in dim 1."""
    from ..conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """module.<name> divided by its largest singular value (estimated by power iteration)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    dim = _default_dim(module) if dim is None else dim
    return parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
