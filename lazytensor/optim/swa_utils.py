"""torch.optim.swa_utils: weight averaging (SWA, EMA) of a model's parameters, the SWA learning
rate schedule, and a pass that recomputes BatchNorm statistics for the averaged weights."""
from __future__ import annotations

import itertools
import math
from copy import deepcopy
from typing import Callable, Iterable

from ..autodiff.grad_mode import no_grad
from ..creation import tensor
from ..ir import dtype as D
from ..nn.module import Module
from ..nn.parameter import keep_leaf_inplace
from ..tensor import Tensor
from .lr_scheduler import LRScheduler
from .optimizer import Optimizer, lerp_from_nearer_end

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
           "get_swa_multi_avg_fn"]


def _check_decay(decay: float) -> None:
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """avg_fn of an exponential moving average: decay * average + (1 - decay) * current."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn() -> Callable:
    """avg_fn of the equal-weight running average."""
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def _update_all(averaged: list[Tensor], current: list[Tensor], weight: float,
                integral: Callable[[Tensor, Tensor], Tensor]) -> None:
    """averaged moves to current by `weight`, in place; integer tensors (a BatchNorm's batch
    count) take `integral`'s float value, truncated, as PyTorch's copy does."""
    with no_grad():
        for a, c in zip(averaged, current):
            a.copy_(lerp_from_nearer_end(a, c, weight) if a.dtype.is_floating_point else integral(a, c))


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """multi_avg_fn of an exponential moving average (updates the list in place)."""
    _check_decay(decay)

    def ema_update(ema_param_list: list[Tensor], current_param_list: list[Tensor], _) -> None:
        _update_all(ema_param_list, current_param_list, 1 - decay, lambda a, c: a * decay + c * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """multi_avg_fn of the equal-weight running average (updates the list in place)."""
    def swa_update(averaged_param_list: list[Tensor], current_param_list: list[Tensor], num_averaged) -> None:
        n = float(num_averaged)
        _update_all(averaged_param_list, current_param_list, 1 / (n + 1), lambda a, c: a + (c - a) / (n + 1))
    return swa_update


class AveragedModel(Module):
    """A copy of `model` whose parameters (and buffers, with use_buffers) are a running average
    of the model's at each update_parameters call: equal weights by default, or avg_fn /
    multi_avg_fn (get_ema_multi_avg_fn for an EMA)."""

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=D.int64, device=device))
        self._count = 0  # n_averaged on the host: the first update copies, without a read back
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model: Module) -> tuple[list[Tensor], list[Tensor]]:
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.parameters(), model.parameters()
        pairs = [(a, b.detach().to(a.device)) for a, b in zip(mine, theirs)]
        return [a for a, _ in pairs], [b for _, b in pairs]

    def update_parameters(self, model: Module) -> None:
        """Fold the model's current parameters into the average (the first call copies them)."""
        averaged, current = self._averaged_tensors(model)
        with no_grad():
            if self._count == 0:
                for a, c in zip(averaged, current):
                    keep_leaf_inplace(a, lambda t, c=c: t.copy_(c))
            elif self.multi_avg_fn is not None:
                flags = [a.requires_grad for a in averaged]
                self.multi_avg_fn(averaged, current, self.n_averaged)
                _restore_flags(averaged, flags)
            else:  # one tensor at a time, as PyTorch on a CPU (its default divides by n + 1)
                avg_fn = self.avg_fn or get_swa_avg_fn()
                for a, c in zip(averaged, current):
                    keep_leaf_inplace(a, lambda t, c=c: t.copy_(avg_fn(t.detach(), c, self.n_averaged.to(t.device))))
            if not self.use_buffers:  # buffers follow the model's as they are
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.add_(1)
        self._count += 1

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._count = int(self.n_averaged.item())


def _restore_flags(tensors: list[Tensor], flags: list[bool]) -> None:
    for t, flag in zip(tensors, flags):  # the core drops leaf-ness on a no_grad in-place write
        if flag and not t.requires_grad:
            t.requires_grad = True


def update_bn(loader: Iterable, model: Module, device=None) -> None:
    """One pass over `loader` in training mode that recomputes every BatchNorm's running mean
    and variance as plain averages over the batches (momentum None)."""
    from ..nn.normalization import _BatchNorm, _InstanceNorm
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            model(batch if device is None else batch.to(device))
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to `swa_lr` over anneal_epochs (cosine or linear),
    then hold it there."""

    def __init__(self, optimizer: Optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1) -> None:
        swa_lrs = list(swa_lr) if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(optimizer.param_groups)
        if len(swa_lrs) != len(optimizer.param_groups):
            raise ValueError(f"swa_lr must have the same length as optimizer.param_groups. swa_lr has "
                             f"{len(swa_lrs)} values, param_groups has {len(optimizer.param_groups)}.")
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_strategy, self.anneal_epochs = anneal_strategy, anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        return t if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The learning rate before the last annealing step, recovered from the current one."""
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
