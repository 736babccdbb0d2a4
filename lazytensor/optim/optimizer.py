"""lt.optim.Optimizer: param_groups, per-parameter state, zero_grad, state_dict.

Updates are in-place Tensor ops under no_grad, so a step is IR like everything else: the
new values of all parameters and their state are realised together at the end of step()
(one schedule: a few fused kernels per parameter, never one per op). Hyper-parameters
(lr, betas, bias corrections) enter as Python floats, which the compiler passes to kernels
as arguments: changing the learning rate never recompiles.
"""
from __future__ import annotations

from collections import defaultdict
from copy import deepcopy
from typing import Any, Iterable

from .. import capture
from ..autodiff.grad_mode import enable_grad, no_grad
from ..autograd.api import take_backward_roots
from ..tensor import Tensor
from ..tensor_base import realize
from ..creation import zeros, zeros_like
from ..ir import dtype as D
from ..nn.module import as_lt_tensor


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def check_nonnegative(op: str, named: Iterable[tuple[str, float]]) -> None:
    """Raise PyTorch's "Invalid <name>: <value>" (prefixed by the optimizer) for a negative value."""
    for name, value in named:
        if value is not required and not 0.0 <= value:
            raise ValueError(f"{op}: Invalid {name}: {value}")


def check_betas(op: str, betas) -> None:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{op}: Invalid beta parameter at index {i}: {beta}")


def prepared_grad(p: Tensor, grad: Tensor, group: dict, decays: bool = True) -> Tensor:
    """The gradient after `maximize` and weight decay (L2 into the gradient, or, with
    decoupled_weight_decay, the parameter shrunk in place first), in PyTorch's order. An
    optimizer without weight decay (`decays` False: Rprop) ignores a group's weight_decay, as
    PyTorch's does (groups often carry one for the other optimizers of a script)."""
    if group.get("maximize"):
        grad = -grad
    wd = float(group.get("weight_decay", 0.0)) if decays else 0.0
    if wd == 0:
        return grad
    if group.get("decoupled_weight_decay"):
        p.mul_(1.0 - float(group["lr"]) * wd)
        return grad
    return grad + p.detach() * wd


def lerp_from_nearer_end(start: Tensor, end: Tensor, weight: float) -> Tensor:
    """PyTorch's lerp formula, from the end nearer the result (its rounding, where the plain
    start + weight * (end - start) can differ in the last bit)."""
    return start + (end - start) * weight if weight < 0.5 else end - (end - start) * (1 - weight)


def count_python_step(state: dict, reason: str) -> float:
    """The new step count as a Python number: scalars derived from it reach kernels as
    arguments (nothing recompiles), but a captured step cannot replay it (`reason` says so)."""
    capture.unreplayable(reason)
    step = state.get("step", 0.0)
    state["step"] = step = (float(step.item()) if isinstance(step, Tensor) else float(step)) + 1.0
    return step


def count_device_step(p: Tensor, state: dict) -> Tensor:
    """The new step count as a 0-d device tensor (as in PyTorch), which a jitted step replays."""
    if "step" not in state:
        state["step"] = zeros((), dtype=D.float32, device=p.device)
    elif not isinstance(state["step"], Tensor):  # loaded from a state dict as a number
        state["step"] = zeros((), dtype=D.float32, device=p.device) + float(state["step"])
    return state["step"].add_(1.0)


class Optimizer:
    # state entries kept as Python numbers (a loaded tensor becomes one again)
    _scalar_state: tuple[str, ...] = ("step",)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = zeros_like(p.grad)

    def _params_with_grad(self, group):
        return [p for p in group["params"] if p.grad is not None]

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        updated: list[Tensor] = []
        for i, group in enumerate(self.param_groups):
            capture.guard(f"the hyper-parameters of param group {i} (a learning rate)",
                          lambda group=group: {k: v for k, v in group.items() if k != "params"})
        with no_grad():
            for group in self.param_groups:
                for p in self._params_with_grad(group):
                    self._update(p, p.grad.detach(), group, self.state[p])
                    updated.append(p)
        self._finish(updated)
        return loss

    def _update(self, p: Tensor, grad: Tensor, group: dict, state: dict) -> None:
        raise NotImplementedError

    def _finish(self, updated: list[Tensor]) -> None:
        """Realise the new parameters and state together, and keep the parameters leaves."""
        tensors = list(updated)
        for p in updated:  # with the gradients, which a later read (or a replay) needs as values
            tensors += [v for v in self.state[p].values() if isinstance(v, Tensor)] + [p.grad]
        tensors += take_backward_roots()  # the loss, still held: its work is mostly the gradients'
        if tensors:
            realize(*tensors)
        for p in updated:
            if not p.requires_grad:  # the core drops leaf-ness on a no_grad in-place write
                p.requires_grad = True

    # ---- state dict ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def _restored(self, name: str, v: Any, p: Tensor) -> Any:
        """A loaded state value as this optimizer keeps it: tensors as p's own copies (a number
        for a scalar entry), lists of them (LBFGS's history) as new lists."""
        if isinstance(v, (list, tuple)):
            return type(v)(self._restored(name, item, p) for item in v)
        if isinstance(v, Tensor) or hasattr(v, "__array__") and not isinstance(v, (int, float)):
            v = as_lt_tensor(v, like=p)
            return float(v.item()) if name in self._scalar_state else v.to(p.dtype).clone()
        return v

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        by_index = {}
        for mine, theirs in zip(self.param_groups, groups):
            for p, i in zip(mine["params"], theirs["params"]):
                by_index[i] = p
        self.state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            key = int(key)
            if key not in by_index:
                continue
            p = by_index[key]
            self.state[p] = {name: self._restored(name, v, p) for name, v in value.items()}
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = deepcopy(v)
