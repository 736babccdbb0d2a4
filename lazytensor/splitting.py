"""Splits beyond split and chunk: tensor_split by sections or indices, the NumPy-style
hsplit/vsplit/dsplit, and PyTorch's aliases. Every piece is a view of the input."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .ir import dtype as D
from .movement import chunk, split
from .tensor_base import TensorBase

if TYPE_CHECKING:
    from .tensor import Tensor


def _slice(x: Tensor, d: int, start: int | None, end: int | None) -> Tensor:
    """x[..., start:end, ...] along dim d, with Python's slice rules (negative ends count from
    the end, an end before the start is empty), as PyTorch's tensor_split slices."""
    return x[(slice(None),) * d + (slice(start, end),)]


def _sections_or_indices(op: str, spec) -> int | list[int]:
    """An int (sections) or a list of split indices; a tensor holds either (0-d or 1-d long)."""
    if not isinstance(spec, TensorBase):
        return spec if isinstance(spec, int) else [int(i) for i in spec]
    if spec.ndim > 1:
        raise RuntimeError(f"{op} expected tensor_indices_or_sections to be a zero-dimensional or "
                           f"one-dimensional tensor, but got a tensor with {spec.ndim} dims")
    if spec.dtype != D.int64:
        raise RuntimeError(f"{op} expected tensor_indices_or_sections to have dtype of long, but got "
                           f"{spec.dtype.name}")
    return spec.item() if spec.ndim == 0 else [int(i) for i in spec.tolist()]


def tensor_split(self: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into n near-equal sections (the first n % size one longer) or at the given indices."""
    if self.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = self._dim(dim, "tensor_split")
    spec = _sections_or_indices("tensor_split", indices_or_sections)
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        size, extra = divmod(self.shape[d], spec)
        spec = [(i + 1) * size + min(i + 1, extra) for i in range(spec - 1)]
    ends = [*spec, None]
    return tuple(_slice(self, d, start, end) for start, end in zip([0, *spec], ends))


def _numpy_split(op: str, dim: int, min_ndim: int):
    """hsplit/vsplit/dsplit: tensor_split along `dim`, where sections must divide the size."""
    def fn(self: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
        if self.ndim < min_ndim:
            raise RuntimeError(f"torch.{op} requires a tensor with at least {min_ndim} dimension, but got a "
                               f"tensor with {self.ndim} dimensions!")
        d = 0 if op == "hsplit" and self.ndim == 1 else dim
        if isinstance(indices_or_sections, int) and (indices_or_sections == 0 or
                                                     self.shape[d] % indices_or_sections):
            raise RuntimeError(f"torch.{op} attempted to split along dimension {d}, but the size of the "
                               f"dimension {self.shape[d]} is not divisible by the split_size "
                               f"{indices_or_sections}!")
        return tensor_split(self, indices_or_sections, d)
    fn.__name__ = op
    fn.__doc__ = f"numpy.{op}: tensor_split along dim {dim}, in sections that divide it evenly."
    return fn


hsplit = _numpy_split("hsplit", 1, 1)
vsplit = _numpy_split("vsplit", 0, 2)
dsplit = _numpy_split("dsplit", 2, 3)


def split_with_sizes(self: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    return split(self, list(split_sizes), dim)


# PyTorch's unsafe_ forms skip its view bookkeeping; here they are the views themselves
unsafe_split, unsafe_chunk, unsafe_split_with_sizes = split, chunk, split_with_sizes
