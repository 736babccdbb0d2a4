"""RMSprop and Adagrad with PyTorch's updates. Their step counts are 0-d device tensors
(as in PyTorch), so a jitted step replays them."""
from __future__ import annotations

from ..creation import full_like, zeros
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, count_device_step, prepared_grad


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_nonnegative("RMSprop", (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                                      ("weight_decay value", weight_decay), ("alpha value", alpha)))
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        if not state:
            state["square_avg"] = zeros(p.shape, dtype=p.dtype, device=p.device)
            if momentum > 0:
                state["momentum_buffer"] = zeros(p.shape, dtype=p.dtype, device=p.device)
            if group["centered"]:
                state["grad_avg"] = zeros(p.shape, dtype=p.dtype, device=p.device)
        count_device_step(p, state)
        grad = prepared_grad(p, grad, group)
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).add_(grad * grad * (1.0 - alpha))
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.mul_(alpha).add_(grad * (1.0 - alpha))
            avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
        else:
            avg = square_avg.sqrt() + eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).add_(grad / avg)
            p.add_(buf * -lr)
        else:
            p.add_(grad / avg * -lr)


class Adagrad(Optimizer):
    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None) -> None:
        check_nonnegative("Adagrad", (("learning rate", lr), ("lr_decay value", lr_decay),
                                      ("weight_decay value", weight_decay),
                                      ("initial_accumulator_value value", initial_accumulator_value),
                                      ("epsilon value", eps)))
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, lr_decay, eps = (float(group[k]) for k in ("lr", "lr_decay", "eps"))
        if "sum" not in state:
            state["sum"] = full_like(p.detach(), float(group["initial_accumulator_value"]))
        step = count_device_step(p, state)
        grad = prepared_grad(p, grad, group)
        clr = lr / (1.0 + (step - 1.0) * lr_decay) if lr_decay != 0 else lr
        state["sum"].add_(grad * grad)
        std = state["sum"].sqrt() + eps
        p.add_(grad / std * -clr)
