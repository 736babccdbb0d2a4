"""Adafactor with PyTorch's algorithm (torch.optim.Adafactor): the second moment of a matrix's
gradient kept as row and column factors, a relative step size, and update clipping.

PyTorch reads the parameter's and the update's norms on the host for its step size and
clipping; here they stay 0-d tensors (maximum/clamp instead of max()), so a step needs no
read back and fuses like the other optimizers'."""
from __future__ import annotations

import math

from ..creation import zeros, zeros_like
from ..type_info import finfo
from ..tensor import Tensor
from .optimizer import Optimizer, count_python_step


class Adafactor(Optimizer):
    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps=(None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach=None, maximize: bool = False) -> None:
        checks = ((0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
                  (beta2_decay <= 0.0, f"beta2_decay should be <= 0 but is: {beta2_decay}"),
                  (eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}"),
                  (0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}"),
                  (1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}"),
                  (0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}"))
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Adafactor: {message}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def step(self, closure=None):
        # PyTorch's eps1 default is the machine epsilon of each group's first updated parameter
        self._eps1 = {}
        for group in self.param_groups:
            with_grad = self._params_with_grad(group)
            self._eps1[id(group)] = group["eps"][0] if group["eps"][0] is not None or not with_grad \
                else finfo(with_grad[0].dtype).eps
        return super().step(closure)

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, d, wd = float(group["lr"]), float(group["d"]), float(group["weight_decay"])
        eps1, eps2 = self._eps1[id(group)], float(group["eps"][1])
        if group["maximize"]:
            grad = -grad
        if not state:
            state["step"] = 0.0
            if grad.ndim > 1:
                state["row_var"] = zeros(*grad.shape[:-1], 1, dtype=grad.dtype, device=grad.device)
                state["col_var"] = zeros(*grad.shape[:-2], 1, grad.shape[-1], dtype=grad.dtype, device=grad.device)
            else:
                state["variance"] = zeros_like(grad).detach()
        step = count_python_step(state, "Adafactor counts its steps in Python")
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / math.sqrt(step))
        alpha = (p.detach().norm(2) / math.sqrt(p.numel())).clamp(min=eps2) * rho_t  # before the decay
        if wd != 0:
            p.mul_(1 - lr * wd)
        if grad.ndim > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(grad.norm(dim=-1, keepdim=True).square() / grad.shape[-1], one_minus_beta2_t)
            col_var.lerp_(grad.norm(dim=-2, keepdim=True).square() / grad.shape[-2], one_minus_beta2_t)
            var_estimate = (row_var @ col_var) / row_var.mean(dim=-2, keepdim=True).clamp(min=eps1)
        else:
            state["variance"].lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = state["variance"]
        update = var_estimate.clamp(min=eps1 * eps1).rsqrt() * grad
        denom = (update.norm(2) / (math.sqrt(update.numel()) * d)).clamp(min=1.0)
        p.add_(update * (-alpha / denom))
