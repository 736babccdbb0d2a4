"""torch's *_copy functions: a view op's result as a tensor of its own (view_copy, t_copy,
diagonal_copy, ...), each the view op followed by clone."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .tensor_base import TensorBase

if TYPE_CHECKING:
    from .tensor import Tensor


def _copy_of(method: str) -> Callable:
    """input.method(*args) as new tensors (each one of a tuple of views)."""
    def fn(input: Tensor, *args, **kwargs):
        out = getattr(input, method)(*args, **kwargs)
        return out.clone() if isinstance(out, TensorBase) else tuple(t.clone() for t in out)
    fn.__name__ = f"{method}_copy"
    fn.__doc__ = f"input.{method}(...) as a new tensor, sharing no memory with input."
    return fn


def alias_copy(input: Tensor) -> Tensor:
    return input.clone()


def slice_copy(input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
               step: int = 1) -> Tensor:
    d = input._dim(dim, "slice_copy")
    return input[(slice(None),) * d + (slice(start, end, step),)].clone()


view_copy, permute_copy, t_copy, transpose_copy = map(_copy_of, ("view", "permute", "t", "transpose"))
squeeze_copy, unsqueeze_copy, expand_copy, select_copy = map(_copy_of, ("squeeze", "unsqueeze", "expand", "select"))
diagonal_copy, unfold_copy, detach_copy = map(_copy_of, ("diagonal", "unfold", "detach"))
split_copy, split_with_sizes_copy, unbind_copy = map(_copy_of, ("split", "split_with_sizes", "unbind"))
