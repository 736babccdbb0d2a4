"""embedding_bag (nn.EmbeddingBag's, in nn/sparse.py): the sum, mean or max of the embeddings of each bag of indices,
a bag being a row of a 2-D input or a run of a 1-D input between offsets. Built as a product
with the (bags x indices) membership matrix, so it fuses and has its gradient from autograd."""
from __future__ import annotations

import math

from ..creation import arange
from ..elementwise import where
from ..indexing import index_select
from ..tensor import Tensor

MODES = ("sum", "mean", "max")


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> tuple[Tensor, Tensor, int]:
    """The flat indices, the bag of each, and the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"embedding_bag: if input is 2D, then offsets has to be None, as input is treated as "
                             f"a mini-batch of fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__} (input shape {tuple(input.shape)})")
        rows, length = input.shape
        return input.reshape(-1), arange(rows * length, device=input.device) // max(length, 1), rows
    if input.ndim != 1 or offsets is None or offsets.ndim != 1:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D Tensor, and a 1D input takes 1D offsets; got "
                         f"input of shape {tuple(input.shape)} and offsets "
                         f"{None if offsets is None else tuple(offsets.shape)}")
    if offsets.dtype.is_floating_point:
        raise RuntimeError(f"embedding_bag: expected integer offsets, got {offsets.dtype.name}")
    starts = offsets[:-1] if include_last_offset else offsets
    # a position belongs to the last bag that starts at or before it
    position = arange(input.shape[0], device=input.device).unsqueeze(1)
    bag = (position >= starts.long().unsqueeze(0)).long().sum(1) - 1
    return input, bag, starts.shape[0]


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm=None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """(bags, embedding_dim): each bag's embeddings reduced by `mode`; an index equal to
    padding_idx is left out of its bag, and an empty bag gives zeros."""
    if mode not in MODES:
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: max_norm, scale_grad_by_freq and sparse are not supported")
    if input.dtype.is_floating_point:
        raise RuntimeError(f"embedding_bag: expected integer indices, got {input.dtype.name}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}')")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: per_sample_weights of shape {tuple(per_sample_weights.shape)} "
                             f"does not match input of shape {tuple(input.shape)}")
    flat, bag, bags = _bags(input, offsets, include_last_offset)
    rows = index_select(weight, 0, flat, op="embedding_bag")  # (n, dim)
    member = bag.unsqueeze(0) == arange(bags, device=input.device).unsqueeze(1)  # (bags, n)
    if padding_idx is not None:
        member = member & (flat != padding_idx % weight.shape[0]).unsqueeze(0)
    if mode == "max":
        spread = where(member.unsqueeze(-1), rows.unsqueeze(0), -math.inf)
        best = spread.max(1).values if flat.shape[0] else spread.sum(1)
        return where(member.any(1, keepdim=True), best, 0.0)
    share = member.to(weight.dtype)
    if per_sample_weights is not None:
        share = share * per_sample_weights.reshape(1, -1).to(weight.dtype)
    total = share @ rows
    return total / member.sum(1, keepdim=True).clamp(min=1).to(weight.dtype) if mode == "mean" else total

