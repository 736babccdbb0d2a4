"""torch.histogram: counts (or weights) of a tensor's elements in bins given by their number
and range, or by their edges, with the edges it used."""
from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING

from . import checks
from .creation import arange
from .elementwise import where
from .movement import stack
from .type_info import finfo
from .ir import build as B
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor

histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


def _even_edges(x: Tensor, bins: int, range) -> Tensor:
    """bins + 1 edges over `range` (the data's, lazily, by default; [0, 1] for no data; a range
    of one value widened by 1/2 each way), placed as torch.linspace places them."""
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if range is not None:
        low, high = (x.new_tensor(float(v)) for v in range)
        if not all(map(math.isfinite, range)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{range[0]}, {range[1]}] is not finite")
        if range[0] > range[1]:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {range[0]} max "
                               f"{range[1]} for dimension 0")
    elif x.numel():
        low, high = x.amin(), x.amax()
        top = finfo(x.dtype).max  # an infinite or NaN range raises when read, as histc's does
        checks.within("histogram", stack([low, high]).node, -top, top, "the data's range [min, max]")
    else:
        low, high = x.new_tensor(0.0), x.new_tensor(1.0)
    same = low == high
    low, high = where(same, low - 0.5, low), where(same, high + 0.5, high)
    step = (high - low) / bins
    i = arange(bins + 1, dtype=x.dtype, device=x.device)
    # linspace's halves: the first counts up from low, the second down from high
    return where(i < (bins + 1) // 2, low + step * i, high - step * (bins - i))


def histogram(input: Tensor, bins, *, range=None, weight: Tensor | None = None,
              density: bool = False) -> histogram_result:
    """hist[j] counts (or sums the weights of) the elements in [edge j, edge j+1), the last
    bin closed; elements outside the edges are not counted."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"histogram: not implemented for {input.dtype.name} input (shape "
                                  f"{tuple(input.shape)}): PyTorch's takes floats only")
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise RuntimeError(f"torch.histogram(): if weight tensor is provided it should have the same shape as the "
                           f"input tensor excluding its innermost dimension, got input {tuple(input.shape)} and "
                           f"weight {tuple(weight.shape)}")
    x = input.detach().reshape(-1)
    if isinstance(bins, TensorBase):
        if bins.ndim != 1 or bins.numel() < 1:
            raise RuntimeError(f"torch.histogram(): bins tensor should have one dimension and at least 1 element, "
                               f"got shape {tuple(bins.shape)}")
        if bins.dtype != x.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but got "
                               f"input with dtype {x.dtype.name} and bins with dtype {bins.dtype.name}")
        edges = bins.detach()
    else:
        edges = _even_edges(x, int(bins), range)
    n = edges.numel() - 1
    # the bin is the number of edges at or below the element, less one; the last edge closes the last bin
    above = (x.unsqueeze(1) >= edges.unsqueeze(0)).long().sum(1) - 1
    counted = (x >= edges[0]) & (x <= edges[-1])
    keys = where(counted, above.clamp(max=n - 1), -1)
    values = x.new_ones(x.shape) if weight is None else weight.detach().reshape(-1).to(x.dtype)
    hist = wrap(B.select_by_key(keys.node, values.node, n))
    if density:
        hist = hist / (hist.sum() * (edges[1:] - edges[:-1]))
    return histogram_result(hist, edges)
