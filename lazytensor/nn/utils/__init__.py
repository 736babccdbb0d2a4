"""torch.nn.utils: gradient clipping, flat parameter vectors, weight norm; .rnn packs sequences.

Clipping stays lazy: the total norm and the scale are tensors, multiplied into the
gradients in place, so a training step fuses them with the rest and nothing waits."""
from __future__ import annotations

import math
from typing import Iterable

from ...autodiff.grad_mode import no_grad
from ...movement import cat, stack
from ...reduce import vector_norm
from ...tensor import Tensor
from . import rnn  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The norm of the tensors' norms (as of one vector of them all), as a lazy 0-d tensor."""
    from ...creation import tensor
    tensors = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not tensors:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        total = vector_norm(stack([vector_norm(t.detach(), norm_type) for t in tensors]), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"get_total_norm: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({total.item()}), so it cannot be clipped")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale the gradients in place by max_norm / total_norm when that is below 1."""
    params = _with_grads(parameters)
    with no_grad():
        scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for p in params:
            p.grad.mul_(scale.to(p.grad.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most max_norm; returns
    the norm before clipping."""
    params = _with_grads(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    with no_grad():
        for p in _with_grads(parameters):
            p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and joined into one vector."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters (in place)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D tensor, got "
                        f"{type(vec).__name__ if not isinstance(vec, Tensor) else tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements, the parameters {total}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[start:start + n].reshape(p.shape))
            start += n
