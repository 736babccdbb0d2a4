"""Adam and AdamW with PyTorch's exact update (bias correction, eps outside the sqrt, amsgrad).

As in PyTorch, `capturable=True` keeps each parameter's step count on the device and
computes the bias corrections there, so that lt.jit can replay a step; with the default
the count is a Python number, and a jitted step runs its Python every call.
"""
from __future__ import annotations

import math

from ..creation import zeros_like
from ..elementwise import maximum
from ..tensor import Tensor
from .optimizer import Optimizer, check_betas, check_nonnegative, count_device_step, count_python_step, prepared_grad


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False) -> None:
        check_nonnegative(type(self).__name__, (("learning rate", lr), ("epsilon value", eps),
                                                ("weight_decay value", weight_decay)))
        check_betas(type(self).__name__, betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay or self._decoupled))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = zeros_like(p).detach()
            state["exp_avg_sq"] = zeros_like(p).detach()
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(p).detach()
        step = self._count_step(p, group, state)
        grad = prepared_grad(p, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(grad * (1.0 - beta1))
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1.0 - beta2))
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2.sqrt() if group["capturable"] else math.sqrt(bias_correction2)
        if group["amsgrad"]:
            state["max_exp_avg_sq"].copy_(maximum(state["max_exp_avg_sq"], exp_avg_sq))
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        denom = second.sqrt() / bias_correction2_sqrt + eps
        p.add_(exp_avg / denom * -step_size)

    @staticmethod
    def _count_step(p: Tensor, group: dict, state: dict):
        """The new step count: a 0-d device tensor when capturable, else a Python number (no
        .item(), no recompile, but fixed in a captured step)."""
        if group["capturable"]:
            return count_device_step(p, state)
        return count_python_step(state, "Adam(capturable=False) counts its steps in Python; pass "
                                        "capturable=True to replay a jitted step")


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, capturable=capturable)
