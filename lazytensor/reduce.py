"""Reductions with dim (int, tuple, negative, None) and keepdim, as PyTorch."""
from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING
from collections import namedtuple

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .ir.ops import reduce_identity
from .autograd.function import differentiable
from .elementwise import maximum, minimum, where
from .movement import stack
from .runtime.devices import get_device
from .tensor_base import TensorBase, wrap
from .type_info import finfo

if TYPE_CHECKING:
    from .tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])
torch_return_types_max = values_indices
cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def normalize_dims(x: Tensor, dim, op: str) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(x._dim(d, op) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {list(dims)} appears multiple times in the list of dims")
    return out if x.ndim else ()


def _finish(x: Tensor, node, dims: tuple[int, ...], keepdim: bool) -> Tensor:
    """The reduction's result, its reduced axes dropped unless `keepdim` (a reshape node, not a
    view of a tensor of its own: a layer records several reductions)."""
    if keepdim or not dims:
        return wrap(node)
    return wrap(B.reshape(node, tuple(n for i, n in enumerate(node.shape) if i not in dims)))


def _reduce(x: Tensor, op: str, dim, keepdim: bool, name: str, dtype=None) -> Tensor:
    dims = normalize_dims(x, dim, name)
    node = x.node
    if dtype is not None and node.dtype != dtype:
        node = B.cast(node, dtype)
    if x.numel() == 0 and op in ("max", "min") and any(x.shape[d] == 0 for d in dims):
        raise RuntimeError(f"{name}(): Expected reduction dim to have non-zero size (shape {tuple(x.shape)})")
    return _finish(x, B.reduce(node, op, dims), dims, keepdim)


def _accumulate_type(x: Tensor, dtype) -> D.DType:
    if dtype is not None:
        return D.to_dtype(dtype)
    return D.int64 if x.dtype.category < 2 else x.dtype


def sum(self: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    return _reduce(self, "sum", dim, keepdim, "sum", _accumulate_type(self, dtype))


def prod(self: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    return _reduce(self, "prod", dim, keepdim, "prod", _accumulate_type(self, dtype))


def mean(self: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    dt = D.to_dtype(dtype) if dtype is not None else self.dtype
    if not dt.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {self.dtype.name} (shape {tuple(self.shape)})")
    dims = normalize_dims(self, dim, "mean")
    count = math.prod(self.shape[d] for d in dims)
    total = _reduce(self, "sum", dim, keepdim, "mean", dt)
    return total * (1.0 / count) if count else total * math.nan


def amax(self: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _reduce(self, "max", None if dim == () else dim, keepdim, "amax")


def amin(self: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _reduce(self, "min", None if dim == () else dim, keepdim, "amin")


def _arg_extreme(x: Tensor, dim, keepdim: bool, op: str, name: str) -> Tensor:
    if dim is None:
        return _arg_extreme(x.reshape(-1), 0, False, op, name) if not keepdim else \
            _arg_extreme(x.reshape(-1), 0, False, op, name).reshape((1,) * x.ndim)
    d = x._dim(dim, name)
    if x.ndim == 0:
        return wrap(const(0, D.int64, (), x.device.name))
    if x.shape[d] == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim {d} to have non-zero size (shape {tuple(x.shape)})")
    best = _reduce(x, op, d, True, name)
    n = x.shape[d]
    idx = wrap(B.iota(tuple(x.shape), d, D.int64, x.device.name))
    hit = (x == best) | (x != x) if x.dtype.is_floating_point else (x == best)
    first = where(hit, idx, n)
    return _reduce(first, "min", d, keepdim, name)


def argmax(self: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg_extreme(self, dim, keepdim, "max", "argmax")


def argmin(self: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg_extreme(self, dim, keepdim, "min", "argmin")


def _extreme(x: Tensor, dim, keepdim, op: str, name: str, other=None):
    if isinstance(dim, TensorBase):  # torch.max(a, b) is maximum
        other, dim = dim, None
    if other is not None:
        return (maximum if op == "max" else minimum)(x, other)
    if dim is None:  # ties and NaNs share the gradient, as PyTorch's
        return _FULL_EXTREME[op](x, _reduce(x.detach(), op, None, False, name))
    indices = _arg_extreme(x, dim, keepdim, op, name)
    if not x.requires_grad:
        return values_indices(_reduce(x, op, dim, keepdim, name), indices)
    # read the values at the indices, so the gradient goes to that element only (as PyTorch)
    d = x._dim(dim, name)
    at = indices if keepdim or x.ndim == 0 else indices.unsqueeze(d)
    values = x.gather(d, at) if x.ndim else x.clone()
    return values_indices(values if keepdim or x.ndim == 0 else values.squeeze(d), indices)


def max(self: Tensor, dim=None, keepdim: bool = False, other=None):
    return _extreme(self, dim, keepdim, "max", "max", other)


def min(self: Tensor, dim=None, keepdim: bool = False, other=None):
    return _extreme(self, dim, keepdim, "min", "min", other)


def all_(self: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    misses = (self == 0).sum(dim, keepdim=keepdim)  # sums are defined on empty dims too
    return misses == 0


def any_(self: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return (self != 0).sum(dim, keepdim=keepdim) > 0


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


def var(self: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    if isinstance(dim, bool):  # var(unbiased) positional form
        unbiased, dim = dim, None
    dims = normalize_dims(self, dim, "var")
    n = math.prod(self.shape[d] for d in dims)
    centered = self - self.mean(dims, keepdim=True)
    total = (centered * centered).sum(dims, keepdim=keepdim)
    denom = n - _correction(unbiased, correction)
    return total * (1.0 / denom) if denom > 0 else total * math.nan


def std(self: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    return _root(self.var(dim, unbiased, keepdim, correction=correction), 0.5)


def _root(s: Tensor, power: float) -> Tensor:
    """s ** power (0 < power < 1) of a sum of powers (a norm, a deviation) whose gradient where
    s is 0 is 0, PyTorch's subgradient there: sqrt's is inf, which the 0 of the sum's own
    gradient turned to NaN (a zero vector's norm gave NaN gradients). The root is taken of 1
    where s is 0, so that its gradient there is finite, and then masked."""
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** power)


def var_mean(self: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return self.var(dim, unbiased, keepdim, correction=correction), self.mean(normalize_dims(self, dim, "var_mean"), keepdim)


def std_mean(self: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    variance, mean = var_mean(self, dim, unbiased, keepdim, correction=correction)
    return _root(variance, 0.5), mean


def renorm(self: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along `dim` whose p-norm exceeds maxnorm scaled down to norm maxnorm."""
    if self.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {self.ndim} dimensions")
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"renorm: expected a floating point tensor as input, got {self.dtype.name} "
                           f"(shape {tuple(self.shape)})")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (p = {p})")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = self._dim(dim, "renorm")
    norms = vector_norm(self, p, tuple(i for i in range(self.ndim) if i != d), keepdim=True)
    # PyTorch's constant: a slice just over maxnorm lands just under it
    return self * where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def norm(self: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch.norm's vector norms: of order p over `dim` ("fro" is 2); integers count as floats.
    (matrix_norms.norm adds the nuclear norm.)"""
    x = self if self.dtype.is_floating_point else self.float()
    return vector_norm(x, 2 if p == "fro" else float(p) if p == "inf" else p, dim, keepdim, dtype=dtype)


aminmax_result = namedtuple("aminmax", ["min", "max"])


def aminmax(self: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """The smallest and largest values (over `dim`, or over everything)."""
    dims = () if dim is None else dim
    return aminmax_result(self.amin(dims, keepdim), self.amax(dims, keepdim))


def sum_to_size(self: Tensor, *size) -> Tensor:
    """The sum down to `size`, a shape self broadcasts from (a gradient's reduction)."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    lead = self.ndim - len(size)
    if lead < 0 or any(n not in (1, m) for n, m in zip(size, self.shape[lead:])):
        raise RuntimeError(f"sum_to_size: size {list(size)} is not expandable to size {list(self.shape)}")
    summed = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(size) if n == 1 and self.shape[lead + i] != 1)
    out = self.sum(summed, keepdim=True) if summed else self
    return out.reshape(size)


def _spacing(y: Tensor, x, dx, dim: int, op: str) -> Tensor | float:
    """The widths of trapezoid's intervals along `dim`: from the sample points x, or dx."""
    if x is None:
        return 1.0 if dx is None else dx
    if isinstance(x, (int, float)):
        return x
    if x.ndim == 1:
        if x.shape[0] != y.shape[dim]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point: x of shape "
                               f"{tuple(x.shape)}, y of shape {tuple(y.shape)} along dim {dim}")
        shape = [1] * y.ndim
        shape[dim] = -1
        x = x.reshape(shape)
    return x.diff(dim=dim)


def _trapezoids(op: str, y: Tensor, x, dx, dim: int) -> tuple[Tensor, int]:
    """The areas of the trapezoids between neighbouring samples of y along `dim`, and the dim."""
    d = y._dim(dim, op)
    n = y.shape[d]
    pairs = y.narrow(d, 0, builtins.max(n - 1, 0)) + y.narrow(d, builtins.min(1, n), builtins.max(n - 1, 0))
    return pairs * _spacing(y, x, dx, d, op) / 2, d


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of y along `dim` by the trapezoidal rule."""
    areas, d = _trapezoids("trapezoid", y, x, dx, dim)
    return areas.sum(d)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running integral of y along `dim` by the trapezoidal rule (one fewer entry)."""
    areas, d = _trapezoids("cumulative_trapezoid", y, x, dx, dim)
    return areas.cumsum(d)


def _observation_weights(n: int, fweights, aweights) -> Tensor | None:
    """cov's weight of each observation: the product of the frequency and importance weights."""
    weights = None
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is not None:
            if w.ndim != 1 or w.shape[0] != n:
                raise RuntimeError(f"cov(): expected {name} to be a vector of {n} entries, got shape {tuple(w.shape)}")
            weights = w if weights is None else weights * w
    return weights


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """The covariance matrix of the variables in input's rows (observations in columns)."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions (shape {tuple(input.shape)})")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    x = x if x.dtype.is_floating_point else x.float()
    weights = _observation_weights(x.shape[1], fweights, aweights)
    if weights is None:
        mean = x.mean(1, keepdim=True)
        norm = x.shape[1] - correction
        weighted = x - mean
    else:
        weights = weights.to(x.dtype)
        total = weights.sum()
        mean = (x * weights).sum(1, keepdim=True) / total
        if correction == 0:
            norm = total
        elif aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (weights * aweights).sum() / total
        weighted = (x - mean) * weights
    norm = _clamp_at_zero(norm)
    out = (x - mean).matmul(weighted.t()) / norm
    return out.squeeze()  # one variable: a 0-d variance, as torch


def _clamp_at_zero(value):
    """A count of degrees of freedom below 0 as 0 (the covariance is then inf or NaN, as PyTorch's)."""
    return value.clamp(min=0) if isinstance(value, TensorBase) else builtins.max(value, 0)


def corrcoef(input: Tensor) -> Tensor:
    """Pearson's correlation coefficients of the variables in input's rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    scale = d.sqrt()
    return (c / scale.unsqueeze(1) / scale.unsqueeze(0)).clamp(-1, 1)


def float_input(op: str, x: Tensor, dtype=None) -> Tensor:
    """x (in `dtype`, if given): a float tensor, as the norms take no integers, even to convert."""
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input, got {x.dtype.name} "
                           f"(shape {tuple(x.shape)})")
    return x if dtype is None else x.to(dtype)


def _dims(dim) -> tuple | None:
    return None if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ord-norm of x's entries over `dim` (all of them by default): inf and -inf are the
    largest and smallest magnitude, 0 counts the nonzero entries."""
    x = float_input("vector_norm", x, dtype)
    dims = _dims(dim)
    magnitude = x.abs()
    if ord in (math.inf, -math.inf):
        return _extreme_norm(x, "max" if ord > 0 else "min", dims, keepdim)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim=keepdim)
    if ord == 1:
        return magnitude.sum(dims, keepdim=keepdim)
    if ord == 2:
        return _root((x * x).sum(dims, keepdim=keepdim), 0.5)
    if ord < 1:  # PyTorch's gradient at a zero entry is 0, where |x| ** (ord - 1) is inf
        zero = x == 0
        entries = where(zero, 0.0 if ord > 0 else math.inf, where(zero, 1.0, magnitude) ** ord)
        return entries.sum(dims, keepdim=keepdim) ** (1.0 / ord)
    # a root of a sum that is 0 has PyTorch's 0 gradient (_root), where ord > 1 would give NaN
    return _root((magnitude ** ord).sum(dims, keepdim=keepdim), 1.0 / ord)


def _extreme_norm_value(x: Tensor, op: str, dims, keepdim: bool) -> Tensor:
    magnitude = x.abs()
    return (magnitude.amax if op == "max" else magnitude.amin)(() if dims is None else dims, keepdim=keepdim)


def _extreme_norm_backward(grad: Tensor, x: Tensor, op: str, dims, keepdim: bool) -> tuple:
    """PyTorch's inf-norm backward: sgn(x) grad, shared by the entries whose magnitude is the
    norm or NaN (whose sgn is 0); amax's rule gave NaN to every entry beside a NaN."""
    norm = _extreme_norm_value(x, op, dims, True)
    magnitude = x.abs()
    hit = ((magnitude == norm) | (magnitude != magnitude)).to(x.dtype)
    spread = grad if keepdim else grad.reshape(norm.shape)
    return x.sign() * ((spread / hit.sum(dims, keepdim=True)) * hit), None, None, None


_extreme_norm = differentiable("LinalgVectorNorm", _extreme_norm_value, _extreme_norm_backward)


def evenly_distributed(name: str):
    """An op's value (computed apart) whose gradient is PyTorch's evenly_distribute_backward, as
    a full max, min or median has: shared by the entries equal to it (or NaN, where it is NaN)."""
    def backward(grad: Tensor, x: Tensor, value: Tensor) -> tuple:
        hit = where(value != value, x != x, x == value)
        return where(hit, grad / hit.to(grad.dtype).sum(), 0.0), None
    return differentiable(name, lambda x, value: value, backward)


_FULL_EXTREME = {op: evenly_distributed(op.capitalize()) for op in ("max", "min")}


def _row_peak(x: Tensor, dims) -> Tensor:
    """The max over `dims` (kept), which softmax-like ops subtract for stability; over an
    empty dim there is nothing to shift, and max itself would refuse. No gradient flows
    through it (the shift cancels), as in PyTorch's softmax."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if any(x.shape[d] == 0 for d in dims):
        return wrap(const(0, x.dtype, tuple(1 if i in dims else n for i, n in enumerate(x.shape)), x.device.name))
    return x.detach().amax(dims, keepdim=True)  # the result does not depend on the shift


def logsumexp(self: Tensor, dim, keepdim: bool = False) -> Tensor:
    x = self if self.dtype.is_floating_point else self.float()
    dims = normalize_dims(x, dim, "logsumexp")
    peak = _row_peak(x, dims)
    safe = where(peak.abs() == math.inf, 0.0, peak)
    out = (x - safe).exp().sum(dims, keepdim=True).log() + safe
    return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in dims))


def softmax(self: Tensor, dim: int, dtype=None) -> Tensor:
    x = self.to(D.to_dtype(dtype)) if dtype is not None else (self if self.dtype.is_floating_point else self.float())
    d = x._dim(dim, "softmax")
    e = (x - _row_peak(x, d)).exp()
    return e / e.sum(d, keepdim=True)


def log_softmax(self: Tensor, dim: int, dtype=None) -> Tensor:
    x = self.to(D.to_dtype(dtype)) if dtype is not None else (self if self.dtype.is_floating_point else self.float())
    d = x._dim(dim, "log_softmax")
    shifted = x - _row_peak(x, d)
    return shifted - shifted.exp().sum(d, keepdim=True).log()


def cumsum(self: Tensor, dim: int, dtype=None) -> Tensor:
    return _prefix(self, dim, dtype, "cumsum", "sum")


def cumprod(self: Tensor, dim: int, dtype=None) -> Tensor:
    return _prefix(self, dim, dtype, "cumprod", "prod")


def _prefix(self: Tensor, dim: int, dtype, name: str, op: str) -> Tensor:
    """Prefix sums or products as one fused reduction: out[i] = op over j <= i (quadratic work,
    no copies). float32 accumulates in float64 where the device has it, as PyTorch's CPU
    kernels do (bit for bit: a float32 running sum differs from it in the last bits, which a
    later cast to int shows)."""
    dt = _accumulate_type(self, dtype)
    d = self._dim(dim, name)
    if self.ndim == 0:
        return self.to(dt)
    if dt == D.float32 and get_device(self.device.name).supports(D.float64):
        return _prefix(self.to(D.float64), d, None, name, op).to(dt)
    x = self.to(dt).movedim(d, -1)
    return _triangular(_columns(x), op).movedim(-1, d)


def _columns(x: Tensor) -> Tensor:
    """x (the scanned dim last, of size n) spread to the grid [..., i, j] that holds x[..., j]."""
    n = x.shape[-1]
    return x.unsqueeze(-2).expand(tuple(x.shape[:-1]) + (n, n))


def _triangular(grid: Tensor, op: str) -> Tensor:
    """out[..., i] = op over j <= i of grid[..., i, j]: the prefix ops' masked grid, reduced in
    one fused kernel (quadratic work, no copies)."""
    shape, dt, dev = tuple(grid.shape), grid.dtype, grid.device.name
    rows = B.iota(shape, len(shape) - 2, D.int64, dev)
    cols = B.iota(shape, len(shape) - 1, D.int64, dev)
    neutral = const(reduce_identity(op, dt), dt, shape, dev)
    masked = B.elementwise("where", B.elementwise("le", cols, rows), grid.node, neutral)
    return wrap(B.reshape(B.reduce(masked, op, (len(shape) - 1,)), shape[:-1]))


def cummax(self: Tensor, dim: int):
    """Running maxima and where they were met: a tie takes the later index, and NaN, once met,
    is the maximum (its latest index), as in PyTorch."""
    return _running_extreme(self, dim, "max", "cummax", cummax_result)


def cummin(self: Tensor, dim: int):
    return _running_extreme(self, dim, "min", "cummin", cummin_result)


def _running_extreme(self: Tensor, dim: int, op: str, name: str, result):
    d = self._dim(dim, name)
    if self.ndim == 0:
        return result(self.clone(), wrap(const(0, D.int64, (), self.device.name)))
    x = self.movedim(d, -1)
    nan = x != x
    peak = _triangular(_columns(where(nan, reduce_identity(op, x.dtype), x)), op)  # NaN aside
    hit = _columns(x) == peak.unsqueeze(-1)  # [..., i, j]: x[j] is the extreme of the prefix ending at i
    if x.dtype.is_floating_point:  # a row that has met NaN looks for its latest NaN
        seen_nan = _triangular(_columns(nan.long()), "sum").unsqueeze(-1) > 0
        hit = where(seen_nan, _columns(nan), hit)
    at = wrap(B.iota(tuple(hit.shape), hit.ndim - 1, D.int64, x.device.name))
    indices = _triangular(where(hit, at, -1), "max")
    return result(x.gather(-1, indices).movedim(-1, d), indices.movedim(-1, d))


def logcumsumexp(self: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(x))) without overflow: each prefix is shifted by its own running maximum
    (an infinite one by 0, so that -inf and +inf give themselves, as in PyTorch)."""
    d = self._dim(dim, "logcumsumexp")
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"logcumsumexp(): expected a float input, got {self.dtype.name} "
                           f"(shape {tuple(self.shape)})")
    if self.ndim == 0:
        return self.clone()
    x = self.movedim(d, -1)
    peak = _triangular(_columns(x.detach()), "max")  # the result does not depend on the shift
    shift = where(peak.abs() == math.inf, 0.0, peak).unsqueeze(-1)
    total = _triangular((_columns(x) - shift).exp(), "sum")
    return (total.log() + shift.squeeze(-1)).movedim(-1, d)


def nansum(self: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The sum with NaN counted as 0."""
    return sum(where(self != self, 0, self), dim, keepdim, dtype)


def nanmean(self: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The mean of the values that are not NaN (NaN where there are none)."""
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected a float input, got {self.dtype.name} (shape {tuple(self.shape)})")
    kept = self == self
    return nansum(self, dim, keepdim, dtype) / sum(kept, dim, keepdim).to(dtype or self.dtype)


def count_nonzero(self: Tensor, dim=None) -> Tensor:
    return sum(self != 0, dim)


def histc(self: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of the elements in `bins` equal bins over [min, max] (the data's range when min ==
    max, taken lazily); elements outside are not counted, max goes to the last bin."""
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"histc(): expected a float input, got {self.dtype.name} (shape {tuple(self.shape)})")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins} (input shape {tuple(self.shape)})")
    if min > max:
        raise RuntimeError(f"histc(): max must be larger than min, got min={min} and max={max}")
    x = self.detach().reshape(-1)
    low, high = min, max
    if min == max and x.numel():  # the data's range; an empty one widened by 1 each way, as in PyTorch
        low, high = x.amin(), x.amax()
        low, high = where(low == high, low - 1, low), where(low == high, high + 1, high)
        top = finfo(x.dtype).max  # an infinite or NaN range raises, as in PyTorch
        checks.within("histc", stack([low, high]).node, -top, top, "the data's range [min, max]")
    span = high - low
    bin_of = ((x - low) * bins / span).floor().long().clamp(max=bins - 1)  # max falls in the last bin
    counted = (x >= low) & (x <= high)
    keys = where(counted, bin_of, -1)
    return wrap(B.select_by_key(keys.node, B.full_like_node(x.node, 1), bins))
