"""Adadelta, Rprop and ASGD with PyTorch's updates.

Adadelta and Rprop count steps on the device (the count enters no formula), so a jitted
step replays them; ASGD's step sizes follow its count in Python, as kernel arguments.
"""
from __future__ import annotations

from ..creation import full_like, zeros_like
from ..elementwise import where
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, count_device_step, count_python_step, prepared_grad


class Adadelta(Optimizer):
    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {rho}")
        check_nonnegative("Adadelta", (("learning rate", lr), ("epsilon value", eps),
                                       ("weight_decay value", weight_decay)))
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        rho, eps = float(group["rho"]), float(group["eps"])
        if "square_avg" not in state:
            state["square_avg"] = zeros_like(p).detach()
            state["acc_delta"] = zeros_like(p).detach()
        count_device_step(p, state)
        grad = prepared_grad(p, grad, group)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).add_(grad * grad * (1.0 - rho))
        delta = (acc_delta + eps).sqrt() / (square_avg + eps).sqrt() * grad
        acc_delta.mul_(rho).add_(delta * delta * (1.0 - rho))
        p.add_(delta * -float(group["lr"]))


class Rprop(Optimizer):
    """Resilient backpropagation: per-element step sizes grown or shrunk by the gradient's
    sign agreement with the last step's; `lr` is only the initial step size."""

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_nonnegative("Rprop", (("learning rate", lr),))
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: Invalid eta values: {etas[0]}, {etas[1]} (expected 0 < etaminus < 1 < etaplus)")
        if not 0.0 <= step_sizes[0] <= step_sizes[1]:
            raise ValueError(f"Rprop: Invalid step sizes: {step_sizes[0]}, {step_sizes[1]} "
                             "(expected 0 <= step_size_min <= step_size_max)")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        (etaminus, etaplus), (smallest, largest) = group["etas"], group["step_sizes"]
        if "prev" not in state:
            state["prev"] = zeros_like(p).detach()
            state["step_size"] = full_like(p.detach(), float(group["lr"]))
        count_device_step(p, state)
        grad = prepared_grad(p, grad, group, decays=False)
        agreement = grad * state["prev"]
        factor = where(agreement > 0, float(etaplus), where(agreement < 0, float(etaminus), 1.0))
        step_size = state["step_size"]
        step_size.copy_((step_size * factor).clamp(float(smallest), float(largest)))
        grad = where(agreement < 0, 0.0, grad)  # a sign change: no move now, and no sign to compare next
        p.add_(grad.sign() * step_size * -1.0)
        state["prev"].copy_(grad)


class ASGD(Optimizer):
    """Averaged SGD: `ax` averages the parameters once the step count passes t0."""

    _scalar_state = ("step", "eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, foreach=None, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_nonnegative("ASGD", (("learning rate", lr), ("weight_decay value", weight_decay)))
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        lr, lambd = float(group["lr"]), float(group["lambd"])
        if "ax" not in state:
            state.update(step=0.0, eta=lr, mu=1.0, ax=zeros_like(p).detach())
        step = count_python_step(state, "ASGD counts its steps in Python")
        grad = prepared_grad(p, grad, group)
        eta, mu = float(state["eta"]), float(state["mu"])
        p.mul_(1.0 - lambd * eta)
        p.add_(grad * -eta)
        if mu != 1.0:
            state["ax"].add_((p.detach() - state["ax"]) * mu)
        else:
            state["ax"].copy_(p.detach())
        state["eta"] = lr / (1.0 + lambd * lr * step) ** float(group["alpha"])
        state["mu"] = 1.0 / max(1.0, step - float(group["t0"]))
