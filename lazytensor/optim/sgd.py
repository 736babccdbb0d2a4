"""SGD with momentum, dampening, Nesterov and weight decay (PyTorch's update)."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, prepared_grad


class SGD(Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach=None, differentiable: bool = False, fused=None) -> None:
        check_nonnegative("SGD", (("learning rate", lr), ("momentum value", momentum),
                                  ("weight_decay value", weight_decay)))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
        grad = prepared_grad(p, grad, group)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.clone()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(momentum).add_(grad * (1.0 - dampening))
            grad = grad + buf * momentum if group["nesterov"] else buf
        p.add_(grad * -lr)
