"""lt.nn.Parameter (a Tensor subclass that a Module registers) and lt.nn.Buffer."""
from __future__ import annotations

from typing import Callable

from ..autograd import no_grad
from ..tensor import Tensor
from ..creation import empty, tensor

def keep_leaf_inplace(t: Tensor, update: Callable[[Tensor], object]) -> Tensor:
    """Run `update(t)` (an in-place op) under no_grad; a leaf that required grad still does after."""
    flag = t.requires_grad
    with no_grad():
        update(t)
    if flag and not t.requires_grad:  # the core drops leaf-ness on a no_grad in-place write
        t.requires_grad = True
    return t


def _alias(cls, data: Tensor):
    """A `cls` over the same storage as `data` (writes go through both); detach steps in
    the view chain are dropped so the alias can carry its own autograd flag, unless autograd
    follows the storage: Parameter(w.detach()) is a leaf of its own, not w (requires_grad
    then gives it a storage of its own)."""
    if data.requires_grad:  # Parameter(w * 2) is a leaf of its own, as PyTorch's (w gets no gradient)
        data = data.detach()
    obj = Tensor.__new__(cls)
    chain = data._chain if data._detached_alias() else tuple(step for step in data._chain if step[0] != "detach")
    obj._setup(data._storage, chain)
    return obj


def _read_detached(t: Tensor) -> None:
    """`t` shares its storage with a new Parameter (whose autograd identity the storage now
    is): `t` reads it detached from here on, so that it still does not require grad, as
    PyTorch's Parameter(t) leaves t (writes either way still show in the other)."""
    if not any(op == "detach" for op, _ in t._chain):
        t._chain, t._view = t._chain + (("detach", None),), None


class Parameter(Tensor):
    """A tensor that is a module parameter: shares storage with `data`, requires grad by default."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            data = tensor(data)
        obj = _alias(cls, data)
        if requires_grad:
            obj.requires_grad = True
            if obj._storage is data._storage:
                _read_detached(data)
        return obj

    def __init__(self, data=None, requires_grad: bool = True):  # all the work is in __new__
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(self.data.clone(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor(self.numpy(), device=self.device), self.requires_grad))


class Buffer(Tensor):
    """PyTorch's nn.Buffer marker: assigning one to a Module registers it as a buffer."""

    __slots__ = ("persistent",)

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        obj = _alias(cls, data)
        obj.persistent = persistent
        return obj

    def __init__(self, data=None, *, persistent: bool = True):
        pass
