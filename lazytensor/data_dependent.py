"""Ops whose result's size depends on the data: they realise their input, then build the
result from the host values (as PyTorch synchronises for them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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
    found = np.nonzero(x.numpy())
    if as_tuple:
        return tuple(tensor(i.astype(np.int64), device=x.device) for i in found)
    return tensor(np.stack(found, axis=1).astype(np.int64).reshape(-1, x.ndim), device=x.device)


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
