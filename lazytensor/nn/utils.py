"""torch.nn.utils: gradient clipping and flat parameter vectors.

Clipping stays lazy: the total norm and the scale are tensors, multiplied into the
gradients in place, so a training step fuses them with the rest and nothing waits."""
from __future__ import annotations

import math
from typing import Iterable

from ..autodiff.grad_mode import no_grad
from ..movement import cat, stack
from ..tensor import Tensor


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most max_norm; returns
    the norm before clipping."""
    from ..creation import tensor
    params = _with_grads(parameters)
    if not params:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        norms = stack([p.grad.detach().abs().amax() if math.isinf(norm_type)
                       else p.grad.detach().norm(norm_type) for p in params])
        total = norms.amax() if math.isinf(norm_type) else norms.norm(norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                               f"non-finite ({total.item()}), so it cannot be clipped")
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for p in params:
            p.grad.mul_(scale.to(p.grad.dtype))
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
