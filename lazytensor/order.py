"""Order statistics read from sort's ranks: kthvalue, median, nanmedian, quantile, nanquantile,
and mode. Values are read from the input at the chosen indices (a gather), so that the
gradient goes to the selected elements, as PyTorch's does."""
from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .ir.ops import reduce_identity
from .elementwise import where
from .reduce import evenly_distributed
from .sorting import sort
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor

kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
nanmedian_result = namedtuple("nanmedian", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])


def _rows(x: Tensor, dim, op: str) -> tuple[Tensor, int | None]:
    """x with the reduced dim last (x flattened when dim is None), and that dim of x."""
    if dim is None:
        return x.reshape(-1), None
    d = x._dim(dim, op)
    return (x.reshape(1) if x.ndim == 0 else x.movedim(d, -1)), d


def _finish(x: Tensor, per_row: Tensor, d: int | None, keepdim: bool) -> Tensor:
    """Results per row (the rows in x's order, a row's results in the last dim) as x's shape
    reduced over d (every dim when None; kept as 1 with `keepdim`), a row's results leading."""
    if d is None:
        reduced = (1,) * x.ndim if keepdim else ()
    else:
        reduced = tuple(1 if i == d else s for i, s in enumerate(x.shape) if keepdim or i != d)
    return per_row.movedim(-1, 0).reshape(tuple(per_row.shape[-1:]) + reduced)


def _reduced(x: Tensor, per_row: Tensor, d: int | None, keepdim: bool) -> Tensor:
    """One result per row, as x's shape reduced over d."""
    return _finish(x, per_row, d, keepdim).squeeze(0)


def _at_ranks(rows: Tensor, ranks: Tensor) -> tuple[Tensor, Tensor]:
    """The values and indices of the elements whose ranks in the sorted rows are `ranks`."""
    indices = sort(rows, -1).indices.gather(-1, ranks)
    return rows.gather(-1, indices), indices


def _valid(rows: Tensor, ignore_nan: bool) -> tuple[Tensor | int, Tensor, Tensor]:
    """(count, nan_row, first_nan) per row (kept dims): how many sorted values take part (NaN
    ignored or not); whether the answer is NaN (a NaN met, or nothing left once NaN is
    ignored); the rank of the row's first NaN (NaN sorts last), where a NaN answer is read."""
    nans = (rows != rows).long().sum(-1, keepdim=True)
    first_nan = rows.shape[-1] - nans
    if ignore_nan:
        return first_nan, first_nan == 0, first_nan
    return rows.shape[-1], nans > 0, first_nan


def kthvalue(self: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest element along dim (k counts from 1) and its index."""
    rows, d = _rows(self, dim, "kthvalue")
    n = rows.shape[-1]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {d} of size {n} "
                           f"(shape {tuple(self.shape)})")
    ranks = wrap(const(k - 1, D.int64, tuple(rows.shape[:-1]) + (1,), rows.device.name))
    values, indices = _at_ranks(rows, ranks)
    return kthvalue_result(_reduced(self, values, d, keepdim), _reduced(self, indices, d, keepdim))


def _median(self: Tensor, dim, keepdim: bool, ignore_nan: bool, op: str, result):
    """The lower of the two middle values (NaN with a NaN's index where the row asks for it)."""
    rows, d = _rows(self, dim, op)
    if rows.shape[-1] == 0 and dim is None and self.dtype.is_floating_point:  # of nothing: NaN, as torch
        return wrap(const(math.nan, self.dtype, (), self.device.name))
    if rows.shape[-1] == 0:
        raise IndexError(f"{op}(): Expected reduction dim to have non-zero size (shape {tuple(self.shape)})")
    count, nan_row, first_nan = _valid(rows, ignore_nan)
    values, indices = _at_ranks(rows, where(nan_row, first_nan, (count - 1) // 2))
    if dim is None:  # ties and NaNs share the gradient, as PyTorch's
        return _FULL_MEDIAN[op](self, _reduced(self, values, None, False).detach())
    return result(_reduced(self, values, d, keepdim), _reduced(self, indices, d, keepdim))


_FULL_MEDIAN = {op: evenly_distributed(op.capitalize()) for op in ("median", "nanmedian")}


def median(self: Tensor, dim: int | None = None, keepdim: bool = False):
    """Without dim, the median of all elements (0-dim); with dim, (values, indices) along it.
    A row holding NaN has median NaN, as in PyTorch."""
    return _median(self, dim, keepdim, False, "median", median_result)


def nanmedian(self: Tensor, dim: int | None = None, keepdim: bool = False):
    """median of the values that are not NaN (NaN where a row has none)."""
    return _median(self, dim, keepdim, True, "nanmedian", nanmedian_result)


def _alike(a: Tensor, b: Tensor) -> Tensor:
    """a == b, where NaN is alike NaN (mode counts NaNs together, as PyTorch's does)."""
    return (a == b) | ((a != a) & (b != b))


def mode(self: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along dim (the smallest of equally frequent ones) and the index
    of its last occurrence."""
    rows, d = _rows(self, dim, "mode")
    same = _alike(rows.unsqueeze(-1), rows.unsqueeze(-2))  # [..., i, j]: quadratic, like sort
    counts = same.long().sum(-1)
    frequent = counts == counts.amax(-1, keepdim=True)
    numbers = frequent & (rows == rows)  # NaN sorts last: a number of the same count wins over it
    value = where(numbers, rows, reduce_identity("min", rows.dtype)).amin(-1, keepdim=True)
    if rows.dtype.is_floating_point:
        value = where(numbers.any(-1, keepdim=True), value, math.nan)
    at = wrap(B.iota(tuple(rows.shape), rows.ndim - 1, D.int64, rows.device.name))
    indices = where(_alike(rows, value), at, -1).amax(-1, keepdim=True)
    values = rows.gather(-1, indices)
    return mode_result(_reduced(self, values, d, keepdim), _reduced(self, indices, d, keepdim))


# how a fractional rank becomes a value, as PyTorch: the rank's rounding, and the weight of the
# value above it in a lerp from the value below (None: no lerp)
_INTERPOLATIONS = {
    "linear": (None, lambda ranks: ranks - ranks.floor()),
    "midpoint": (None, lambda ranks: 0.5),
    "lower": (lambda ranks: ranks.floor(), None),
    "higher": (lambda ranks: ranks.ceil(), None),
    "nearest": (lambda ranks: ranks.round(), None),
}


def _quantile(self: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool, op: str) -> Tensor:
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got {self.dtype.name} "
                           f"(shape {tuple(self.shape)})")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation!r}")
    qs = _fractions(self, q, op)
    rows, d = _rows(self, dim, op)
    if rows.shape[-1] == 0:
        raise IndexError(f"{op}() input tensor must be non-empty (shape {tuple(self.shape)})")
    count, nan_row, first_nan = _valid(rows, ignore_nan)
    ranks = where(nan_row, first_nan.to(rows.dtype), qs * (count - 1))  # [..., len(q)]
    rounding, weight = _INTERPOLATIONS[interpolation]
    ranks = rounding(ranks) if rounding else ranks
    below, _ = _at_ranks(rows, ranks.floor().long())
    out = below if weight is None else below.lerp(_at_ranks(rows, ranks.ceil().long())[0], weight(ranks))
    out = _finish(self, out, d, keepdim)  # a dim for q leads
    return out if isinstance(q, TensorBase) and q.ndim else out.squeeze(0)


def _fractions(x: Tensor, q, op: str) -> Tensor:
    """q (a number, or a tensor of at most one dim, in [0, 1]) as a 1-D tensor of x's dtype."""
    if not isinstance(q, TensorBase):
        if not 0 <= q <= 1:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
        return wrap(const(q, x.dtype, (1,), x.device.name))
    if q.ndim > 1 or q.dtype != x.dtype:
        raise RuntimeError(f"{op}() q must be a scalar or 1D tensor of the input's dtype {x.dtype.name}, got "
                           f"{q.dtype.name}{tuple(q.shape)}")
    checks.within(op, q.node, 0.0, 1.0, "q")
    return q.reshape(-1)


def quantile(self: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles along dim (of all elements when None); a 1-D q adds a leading dim.
    A row holding NaN gives NaN."""
    return _quantile(self, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(self: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile of the values that are not NaN (NaN where a row has none)."""
    return _quantile(self, q, dim, keepdim, interpolation, True, "nanquantile")
