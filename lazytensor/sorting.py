"""Sorting by rank: each element's rank is a fused count of the elements that go
before it, then values and indices are placed by rank. Lazy and identical on
every device; quadratic work along the sorted dim."""
from __future__ import annotations

from typing import TYPE_CHECKING

from collections import namedtuple

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .creation import resolve_device, tensor
from .random import _uniform, rand
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def _ranks(x: Tensor, descending: bool):
    """x with the sorted dim last: rank[i] = how many elements come before element i."""
    n = x.shape[-1]
    lead = tuple(x.shape[:-1])
    grid = lead + (n, n)  # [..., i, j]: does j come before i?
    dev = x.device.name
    xi = B.expand(B.reshape(x.node, lead + (n, 1)), grid)
    xj = B.expand(B.reshape(x.node, lead + (1, n)), grid)
    i = B.iota(grid, len(grid) - 2, D.int64, dev)
    j = B.iota(grid, len(grid) - 1, D.int64, dev)
    strictly = B.elementwise("lt", xi, xj) if descending else B.elementwise("lt", xj, xi)
    if x.dtype.is_floating_point:  # NaN sorts as the largest value, as in PyTorch
        nan_i = B.elementwise("ne", xi, xi)
        nan_j = B.elementwise("ne", xj, xj)
        first, second = (nan_j, nan_i) if descending else (nan_i, nan_j)
        strictly = B.elementwise("or", B.elementwise("and", strictly, B.elementwise("not", second)),
                                 B.elementwise("and", first, B.elementwise("not", second)))
        tie = B.elementwise("or", B.elementwise("eq", xi, xj), B.elementwise("and", nan_i, nan_j))
    else:
        tie = B.elementwise("eq", xi, xj)
    before = B.elementwise("or", strictly, B.elementwise("and", tie, B.elementwise("lt", j, i)))
    return B.reduce(B.cast(before, D.int64), "sum", (len(grid) - 1,)), lead, n


def _place(values, ranks, n: int):
    """out[k] = the value whose rank is k."""
    return B.select_by_key(ranks, values, n, "max" if values.dtype == D.bool_ else "sum")


def sort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    if self.ndim == 0:
        return sort_result(self.clone(), wrap(const(0, D.int64, (), self.device.name)))
    d = self._dim(dim, "sort")
    x = self.movedim(d, -1)
    dev = x.device.name
    ranks, lead, n = _ranks(x, descending)
    ranks = B.reshape(ranks, lead + (n,))
    positions = B.iota(lead + (n,), len(lead), D.int64, dev)
    values = wrap(_place(x.node, ranks, n)).movedim(-1, d)
    indices = wrap(_place(positions, ranks, n)).movedim(-1, d)
    return sort_result(values, indices)


def argsort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(self, dim, descending, stable).indices


def topk(self: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    d = self._dim(dim, "topk")
    n = self.shape[d] if self.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n} "
                           f"(shape {tuple(self.shape)})")
    values, indices = sort(self, d, descending=largest)
    return topk_result(values.narrow(d, 0, k), indices.narrow(d, 0, k))


def multinomial(self: Tensor, num_samples: int, replacement: bool = False, generator=None) -> Tensor:
    """Draw category indices with probabilities proportional to the rows of self."""
    if self.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(self.shape)}")
    probs = self if self.ndim == 2 else self.unsqueeze(0)
    rows, n = probs.shape
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist.size(-1) ({n}) "
                           f"samples without replacement")
    probs = probs.float()
    checks.distribution("multinomial", probs.node, 0 if replacement else num_samples)
    if replacement:
        cdf = probs.cumsum(-1)
        cdf = cdf / cdf[:, -1:]
        u = rand(rows, num_samples, device=self.device, generator=generator)
        count = (cdf.unsqueeze(1) <= u.unsqueeze(2)).long().sum(-1)
        out = count.clamp(max=n - 1)
    else:  # Efraimidis-Spirakis: the k largest u ** (1 / p) are a weighted sample without replacement
        u = rand(rows, n, device=self.device, generator=generator)
        keys = (u.log() / probs).exp()
        out = keys.topk(num_samples, dim=-1).indices
    return out if self.ndim == 2 else out.squeeze(0)


def randperm(n: int, dtype=None, device=None, generator=None, requires_grad=False) -> Tensor:
    keys = wrap(_uniform((n,), resolve_device(device), generator))
    out = argsort(keys, stable=True)
    out = out if dtype is None else out.to(dtype)
    out.requires_grad = requires_grad  # refused by the setter, as in PyTorch, for integer dtypes
    return out


def _before(a: Tensor, b: Tensor) -> Tensor:
    """a < b in sort's order, where NaN is the largest value."""
    if not (a.dtype.is_floating_point or b.dtype.is_floating_point):
        return a < b
    return (a < b) | ((b != b) & (a == a))


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each of `values` would go in the sorted last dim of `sorted_sequence` (1-D, or with
    the leading dims of values): the count of entries before it (not after it, with `right`)."""
    if side is not None:
        if side not in ("left", "right") or (right and side == "left"):
            raise RuntimeError(f"searchsorted(): side must be 'left' or 'right' and agree with right={right}, "
                               f"got side={side!r}")
        right = side == "right"
    seq = sorted_sequence if sorter is None else sorted_sequence.gather(-1, sorter)
    values = values if isinstance(values, TensorBase) else tensor(values, device=seq.device)
    if seq.ndim == 0 or (seq.ndim > 1 and tuple(seq.shape[:-1]) != tuple(values.shape[:-1])):
        raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           f"of boundaries tensor and input value tensor must match, but got boundaries "
                           f"{tuple(seq.shape)} and input {tuple(values.shape)}")
    if seq.ndim > 1:
        seq = seq.unsqueeze(-2)  # [..., value, entry]
    v = values.unsqueeze(-1)
    placed_before = ~_before(v, seq) if right else _before(seq, v)
    return placed_before.sum(-1).to(D.int32 if out_int32 else D.int64)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value among the 1-D sorted `boundaries` (searchsorted, swapped)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got shape "
                           f"{tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each of `elements` equals one of `test_elements` (either may be a number)."""
    device = (elements if isinstance(elements, TensorBase) else test_elements).device
    elements, test_elements = (t if isinstance(t, TensorBase) else tensor(t, device=device)
                               for t in (elements, test_elements))
    found = (elements.unsqueeze(-1) == test_elements.reshape(-1)).any(-1)
    return ~found if invert else found
def msort(self: Tensor) -> Tensor:
    """Sorted along dim 0."""
    return sort(self, 0).values
