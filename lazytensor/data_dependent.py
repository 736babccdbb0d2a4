"""Ops whose result's size depends on the data: they realise their input, then build the
result from the host values (as PyTorch synchronises for them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .capture import refuse_host_read
from .creation import tensor

if TYPE_CHECKING:
    from .tensor import Tensor


def nonzero(x: Tensor, as_tuple: bool = False):
    """Indices of the non-zero elements."""
    refuse_host_read("nonzero() (its result's shape depends on the data)")
    found = np.nonzero(x.numpy())
    if as_tuple:
        return tuple(tensor(i.astype(np.int64), device=x.device) for i in found)
    return tensor(np.stack(found, axis=1).astype(np.int64).reshape(-1, x.ndim), device=x.device)
