"""torch.autograd.Variable: the legacy name for a tensor (every Tensor is a Variable)."""
from __future__ import annotations

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)

    def __call__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


class Variable(metaclass=_VariableMeta):
    """`Variable(t, requires_grad=...)` is a leaf with t's values; `isinstance(t, Variable)`
    is True for every tensor."""
