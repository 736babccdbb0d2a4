"""torch.nn.utils.weight_norm: a weight re-parametrised as g * v / ||v|| (the hook form, with
the parameters `<name>_g` and `<name>_v`), recomputed before each forward."""
from __future__ import annotations

from ...tensor import Tensor
from ..parameter import Parameter


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm over every dim but `dim`, kept broadcastable; dim -1 is the whole tensor's
    norm (PyTorch's convention here, not the last dim)."""
    if dim == -1:
        return v.norm()
    others = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(others, keepdim=True).sqrt()


class WeightNorm:
    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute_weight(self, module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Split module.<name> into a magnitude <name>_g and a direction <name>_v (both parameters)."""
    weight = module._parameters.get(name) if hasattr(module, "_parameters") else None
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    if any(isinstance(hook, WeightNorm) and hook.name == name for hook in module._forward_pre_hooks.values()):
        raise RuntimeError(f"weight_norm: cannot register two weight_norm hooks on the same parameter {name!r}")
    dim = -1 if dim is None else dim
    if dim != -1 and not -weight.ndim <= dim < weight.ndim:
        raise IndexError(f"weight_norm: dim {dim} is out of range for {name!r} of shape {tuple(weight.shape)}")
    hook = WeightNorm(name, dim if dim == -1 else dim % weight.ndim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, hook.dim).detach().clone()))
    module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
    setattr(module, name, hook.compute_weight(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Fold <name>_g and <name>_v back into one parameter <name> and drop the hook."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            weight = hook.compute_weight(module).detach()
            del module._forward_pre_hooks[key]
            delattr(module, name + "_g")
            delattr(module, name + "_v")
            setattr(module, name, Parameter(weight))  # replaces the plain attribute the hook set
            return module
    raise ValueError(f"remove_weight_norm: weight_norm of {name!r} not found in {type(module).__name__}")
