"""Muon (torch.optim.Muon): momentum whose update is orthogonalised by Newton-Schulz iterations
in bfloat16, for the 2-D weights of hidden layers."""
from __future__ import annotations

import math

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, lerp_from_nearer_end

# Keller Jordan's quintic Newton-Schulz coefficients (PyTorch's defaults)
DEFAULT_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
EPS, DEFAULT_NS_STEPS = 1e-7, 5

# adjust_lr_fn -> the learning rate's factor for a (rows, columns) weight
_LR_RATIOS = {
    None: lambda a, b: math.sqrt(max(1, a / b)),
    "original": lambda a, b: math.sqrt(max(1, a / b)),
    "match_rms_adamw": lambda a, b: 0.2 * math.sqrt(max(a, b)),
}


def zeropower_via_newtonschulz(grad: Tensor, coefficients: tuple[float, float, float], steps: int,
                               eps: float) -> Tensor:
    """An approximation of U V^T for grad = U S V^T, by Newton-Schulz steps in bfloat16 on the
    wide orientation of the matrix."""
    if steps >= 100:
        raise ValueError("Muon: number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError(f"Muon: input tensor gradient must be a 2D matrix, got shape {tuple(grad.shape)}")
    if len(coefficients) != 3:
        raise ValueError(f"Muon: coefficients must be a tuple of exactly 3 values, got {coefficients}")
    a, b, c = coefficients
    tall = grad.shape[0] > grad.shape[1]
    x = grad.bfloat16()
    x = x.T if tall else x
    x = _rounded(x / x.norm().clamp(min=eps))  # spectral norm at most 1
    for _ in range(steps):
        gram = _rounded(x @ x.T)
        x = _rounded(a * x + _rounded(b * gram + c * (gram @ gram)) @ x)
    return x.T if tall else x


def _rounded(t: Tensor) -> Tensor:
    """t stored in bfloat16 (a conversion is always stored): PyTorch rounds each op's result,
    where a fused chain would round once at its end."""
    return t.float().bfloat16()


class Muon(Optimizer):
    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = DEFAULT_COEFFICIENTS,
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None) -> None:
        for ok, message in ((0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
                            (0.0 <= momentum, f"momentum should be >= 0 but is: {momentum}"),
                            (0.0 <= weight_decay, f"weight decay should be >= 0 but is: {weight_decay}"),
                            (adjust_lr_fn in _LR_RATIOS,
                             f"Adjust learning rate function {adjust_lr_fn} is not supported")):
            if not ok:
                raise ValueError(f"Muon: {message}")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{tuple(p.shape)}")

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, momentum, wd = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = zeros_like(grad).detach()
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)
        update = lerp_from_nearer_end(grad, buf, momentum) if group["nesterov"] else buf
        update = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        p.mul_(1 - lr * wd)
        p.add_(update.to(p.dtype) * -(lr * _LR_RATIOS[group["adjust_lr_fn"]](*p.shape[:2])))  # in p's precision
