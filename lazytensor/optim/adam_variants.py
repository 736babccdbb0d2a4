"""Adamax, NAdam and RAdam with PyTorch's updates.

Their step counts (and NAdam's running momentum product) are Python numbers: every scalar
derived from them reaches the fused update kernel as an argument, so neither a new step
nor a new learning rate recompiles; a jitted step runs their Python each call.
"""
from __future__ import annotations

import math

from ..creation import zeros_like
from ..elementwise import maximum
from ..tensor import Tensor
from .optimizer import Optimizer, check_betas, check_nonnegative, count_python_step, prepared_grad


class _AdamLike(Optimizer):
    """The checks, defaults and first/second moment state the three share."""

    _second_moment = "exp_avg_sq"

    def __init__(self, params, lr: float, betas, eps: float, weight_decay: float, maximize: bool,
                 **extra) -> None:
        op = type(self).__name__
        check_nonnegative(op, (("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay),
                               *((f"{k} value", v) for k, v in extra.items() if not isinstance(v, bool))))
        check_betas(op, betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, **extra))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = zeros_like(p).detach()
            state[self._second_moment] = zeros_like(p).detach()
        step = count_python_step(state, f"{type(self).__name__} counts its steps in Python")
        grad = prepared_grad(p, grad, group)
        beta1, beta2 = (float(b) for b in group["betas"])
        state["exp_avg"].mul_(beta1).add_(grad * (1.0 - beta1))
        self._apply(p, grad, group, state, step, beta2)

    def _apply(self, p: Tensor, grad: Tensor, group: dict, state: dict, step: float, beta2: float) -> None:
        raise NotImplementedError


class Adamax(_AdamLike):
    """Adam with the infinity norm in place of the second moment."""

    _second_moment = "exp_inf"

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 foreach=None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize)

    def _apply(self, p, grad, group, state, step, beta2) -> None:
        exp_inf = state["exp_inf"]
        exp_inf.copy_(maximum(exp_inf * beta2, grad.abs() + float(group["eps"])))
        step_size = float(group["lr"]) / (1.0 - float(group["betas"][0]) ** step)
        p.add_(state["exp_avg"] / exp_inf * -step_size)


class NAdam(_AdamLike):
    """Adam with Nesterov momentum whose coefficient warms up by momentum_decay."""

    _scalar_state = ("step", "mu_product")

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay)

    def _apply(self, p, grad, group, state, step, beta2) -> None:
        lr, beta1, decay = float(group["lr"]), float(group["betas"][0]), float(group["momentum_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        mu_product = state["mu_product"] = float(state.get("mu_product", 1.0)) * mu
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1.0 - beta2))
        denom = (exp_avg_sq / (1.0 - beta2 ** step)).sqrt() + float(group["eps"])
        p.add_((grad * (-lr * (1.0 - mu) / (1.0 - mu_product))
                + state["exp_avg"] * (-lr * mu_next / (1.0 - mu_product * mu_next))) / denom)


class RAdam(_AdamLike):
    """Adam whose adaptive term is rectified, and left out while its variance is intractable."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize,
                         decoupled_weight_decay=decoupled_weight_decay)

    def _apply(self, p, grad, group, state, step, beta2) -> None:
        lr, beta1 = float(group["lr"]), float(group["betas"][0])
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1.0 - beta2))
        bias_correction2 = 1.0 - beta2 ** step
        corrected = state["exp_avg"] * (-lr / (1.0 - beta1 ** step))
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2 ** step / bias_correction2
        if rho_t <= 5.0:  # the step is a Python number, so this choice is made on the host
            p.add_(corrected)
            return
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        p.add_(corrected * (rect * math.sqrt(bias_correction2)) / (exp_avg_sq.sqrt() + float(group["eps"])))
