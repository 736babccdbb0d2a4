"""Ops whose result's size depends on the data: they realise their input, then build the
result from the host values (as PyTorch synchronises for them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .autograd.function import Function
from .capture import refuse_host_read
from .creation import tensor
from .ir import build as B
from .ir import dtype as D
from .tensor_base import wrap

if TYPE_CHECKING:
    from .tensor import Tensor


def nonzero(x: Tensor, as_tuple: bool = False):
    """Indices of the non-zero elements."""
    refuse_host_read("nonzero() (its result's shape depends on the data)")
    # a 0-d tensor is one element: as a vector for the tuple form, no columns for the matrix
    found = np.nonzero(np.atleast_1d(x.numpy()))
    if as_tuple:
        return tuple(tensor(i.astype(np.int64), device=x.device) for i in found)
    count = len(found[0])
    return tensor(np.stack(found, axis=1).astype(np.int64)[:, :x.ndim].reshape(count, x.ndim), device=x.device)


def argwhere(input: Tensor) -> Tensor:
    """nonzero's (count, ndim) index matrix."""
    return nonzero(input)


class _Unique(Function):
    """unique's values as an op whose backward raises, as PyTorch's does."""

    @staticmethod
    def forward(ctx, source, values):
        return values.clone()

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("the derivative for 'unique' is not implemented")


def _values_on(x: Tensor, found: np.ndarray) -> Tensor:
    """`found` (values read from x) as a tensor of x's dtype and device, through which no
    gradient flows: a backward through it raises where x carries gradients."""
    out = tensor(found, dtype=x.dtype, device=x.device)
    return _Unique.apply(x, out) if x.requires_grad and x.dtype.is_floating_point else out


def _results(x: Tensor, values: np.ndarray, inverse: np.ndarray, counts: np.ndarray,
             return_inverse: bool, return_counts: bool):
    """unique's return value: the values alone, or a tuple with the inverse and counts asked for."""
    out = [_values_on(x, values)]
    if return_inverse:
        out.append(tensor(inverse.astype(np.int64), device=x.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int64), device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None):
    """The distinct values (or slices along `dim`), sorted; each NaN is distinct, as in PyTorch."""
    refuse_host_read("unique() (its result's shape depends on the data)")
    values = x.detach().numpy()
    if dim is None:
        found, inverse, counts = np.unique(values, return_inverse=True, return_counts=True, equal_nan=False)
        inverse = inverse.reshape(values.shape)
    else:
        found, inverse, counts = np.unique(values, return_inverse=True, return_counts=True, axis=x._dim(dim, "unique"))
        inverse = inverse.reshape(-1)
    return _results(x, found, inverse, counts, return_inverse, return_counts)


def unique_consecutive(x: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None):
    """The first of each run of equal consecutive values (or slices along `dim`)."""
    refuse_host_read("unique_consecutive() (its result's shape depends on the data)")
    values = x.detach().numpy()
    d = None if dim is None else x._dim(dim, "unique_consecutive")
    runs = values.reshape(-1) if d is None else np.moveaxis(values, d, 0)
    if runs.shape[0] == 0:
        starts = np.zeros(0, bool)
    else:
        changed = (runs[1:] != runs[:-1]).reshape(runs.shape[0] - 1, int(np.prod(runs.shape[1:]))).any(axis=1)
        starts = np.concatenate([[True], changed])
    group = np.cumsum(starts) - 1
    counts = np.bincount(group, minlength=int(starts.sum())) if len(group) else np.zeros(0, np.int64)
    found = runs[starts] if d is None else np.moveaxis(runs[starts], 0, d)
    inverse = group.reshape(values.shape) if d is None else group
    return _results(x, found, inverse, counts, return_inverse, return_counts)
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ... occurs in the 1-D non-negative integer `input` (the sum of
    its weights, with `weights`); at least `minlength` long. The length is the largest value
    plus one: the input is read, then the counts are built lazily."""
    if input.ndim != 1 or input.dtype.is_floating_point or input.dtype == D.bool_:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got {input.dtype.name}"
                           f"{tuple(input.shape)}")
    if weights is not None and tuple(weights.shape) != tuple(input.shape):
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got weights "
                           f"{tuple(weights.shape)} and input {tuple(input.shape)}")
    refuse_host_read("bincount() (its result's length depends on the data)")
    found = input.numpy()
    if found.size and found.min() < 0:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got the value {found.min()}")
    length = int(np.max(found, initial=-1)) + 1
    if weights is None:
        counted = B.full_like_node(input.node, 1, D.int64)
    else:  # float weights keep their dtype; integer ones count in float64, as in PyTorch
        counted = weights.node if weights.dtype.is_floating_point else B.cast(weights.node, D.float64)
    return wrap(B.select_by_key(B.cast(input.node, D.int64), counted, max(length, minlength)))
