"""Tensor: the user's object. It validates arguments at the call, records IR nodes,
and keeps autograd metadata; it never computes or emits code itself."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from . import config
from .ir import build as B
from .ir.dtype import DType
from .ir.node import Node
from .runtime import engine
from .runtime.devices import get_device
from .views import Chain, apply_chain, writable, writeback


class device:
    """A device name, as `torch.device`: str() gives 'cl', 'cl:1' or 'numpy'."""

    def __init__(self, name):
        from .runtime.devices import canonical_name
        self.name = canonical_name(name.name if isinstance(name, device) else name)

    @property
    def type(self) -> str:
        return self.name.split(":")[0]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"device(type='{self.name}')"

    def __eq__(self, other) -> bool:
        try:
            return self.name == device(other).name
        except (RuntimeError, AttributeError):
            return False

    def __hash__(self) -> int:
        return hash(self.name)


class Storage:
    """The current node of some memory, how often it was written in place, and where
    gradients of its value flow (a leaf's AccumulateGrad or a recorded GradFn)."""

    __slots__ = ("node", "version", "grad_node", "grad", "__weakref__")

    def __init__(self, node: Node):
        self.node, self.version = node, 0
        self.grad_node = None
        self.grad = None  # a leaf's accumulated gradient


class Tensor:
    __slots__ = ("_storage", "_chain", "_view", "_retained_grad", "__weakref__")
    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators

    def __init__(self, data: Any = None, *, dtype=None, device=None, requires_grad: bool = False):
        from .creation import node_from_data
        self._setup(Storage(node_from_data([] if data is None else data, dtype, device)), ())
        self.requires_grad = requires_grad

    def _setup(self, storage: Storage, chain: Chain) -> None:
        self._storage, self._chain, self._view = storage, chain, None
        self._retained_grad = None

    # ---- building --------------------------------------------------------------------------
    @classmethod
    def _from_node(cls, node: Node) -> "Tensor":
        """A tensor owning a new storage that holds `node` (realised at once when LAZY=0)."""
        t = cls.__new__(cls)
        t._setup(Storage(node), ())
        if node.needs_grad and config.GRAD_ENABLED:
            from .autograd.graph import record
            t._storage.grad_node = record(node, t._storage)
        if not config.LAZY:
            t.realize()
        return t

    def _view_of(self, op: str, arg) -> "Tensor":
        """A view sharing this tensor's storage (no copy; writes go through)."""
        t = Tensor.__new__(Tensor)
        t._setup(self._storage, self._chain + ((op, arg),))
        if not config.LAZY:
            t.realize()
        return t

    def _chain_view(self, steps: list[tuple[str, Any]]) -> "Tensor":
        out = self
        for op, arg in steps:
            out = out._view_of(op, arg)
        return out

    @property
    def node(self) -> Node:
        """The IR node for this tensor's current value."""
        if not self._chain:
            return self._storage.node
        if self._view is None or self._view[0] != self._storage.version or self._view[1] is not self._storage.node:
            node = apply_chain(self._storage.node, self._chain)
            grad_node = None
            if node.needs_grad and config.GRAD_ENABLED:
                from .autograd.graph import record
                grad_node = record(node)  # a snapshot now: realising the view would forget its sources
            self._view = (self._storage.version, self._storage.node, node, grad_node)
        return self._view[2]

    def _assign(self, value: Node) -> "Tensor":
        """Write `value` (this tensor's shape) into this tensor's region of its storage."""
        s = self._storage
        leaf = self._is_grad_leaf()  # the storage is a leaf's: writes must keep it one
        if config.GRAD_ENABLED and leaf and self.requires_grad:
            raise RuntimeError(("a view of a " if self._chain else "a ") +
                               "leaf Variable that requires grad is being used in an in-place operation.")
        if not writable(self._chain):
            raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                               "refers to a single memory location. Please clone() the tensor before "
                               "performing the operation.")
        if value.dtype != self.dtype:
            value = B.cast(value, self.dtype)
        value = B.broadcast_to(value, self.shape)
        s.node = writeback(s.node, self._chain, value) if self._chain else value
        s.version += 1
        if leaf:  # an update under no_grad (an optimizer step): still the same leaf
            from .autograd.graph import leaf_value
            s.node = leaf_value(s.node, s.grad_node)
        elif s.node.needs_grad and config.GRAD_ENABLED:
            from .autograd.graph import GradFn, record
            s.grad_node = record(s.node, s)
            if isinstance(s.grad_node, GradFn):
                s.grad_node.rebase(s)
        if not config.LAZY:
            engine.realize([s.node], s.node.device)
        return self

    # ---- realisation -----------------------------------------------------------------------
    def realize(self) -> "Tensor":
        """Compute this tensor's value now (and only what it needs)."""
        nodes = [self._storage.node] + ([self.node] if self._chain else [])
        engine.realize(nodes, self._storage.node.device)
        return self

    def numpy(self) -> np.ndarray:
        self.realize()
        view = self.node.buffer
        return get_device(self.node.device).copyout(view)

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"item(): a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        from .printing import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol):
        from .creation import tensor
        return (tensor, (self.numpy(),), None)

    # ---- attributes ------------------------------------------------------------------------
    @property
    def shape(self) -> "Size":
        return Size(self.node.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        return self.shape[self._dim(dim, "size")]

    @property
    def dtype(self) -> DType:
        return self._storage.node.dtype

    @property
    def device(self) -> device:
        return device(self._storage.node.device)

    @property
    def ndim(self) -> int:
        return len(self.node.shape)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return math.prod(self.node.shape)

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def is_floating_point(self) -> Callable[[], bool]:
        return lambda: self.dtype.is_floating_point

    @property
    def data(self) -> "Tensor":
        """A detached alias: same storage (writes go through), no autograd history."""
        t = Tensor.__new__(Tensor)
        t._setup(self._storage, self._chain + (("detach", None),))
        return t

    @data.setter
    def data(self, other: "Tensor") -> None:
        if other._storage is self._storage:  # `x.data -= ...` already wrote through the alias
            return
        value = other.node
        if value.needs_grad:
            value = B.detach(value)
        if self._chain:
            raise RuntimeError("setting .data on a view is not supported; assign to the base tensor")
        from .ir.node import buffer_node
        s = self._storage
        if s.node.needs_grad:  # keep this leaf's identity: a fresh leaf node over the new value
            engine.realize([value], value.device)
            s.node = buffer_node(value.buffer, value.dtype, value.shape, value.device, needs_grad=True)
            from .autograd.graph import own
            own(s.node, s.grad_node)
        else:
            s.node = value
        s.version += 1
        self._view = None

    # ---- autograd --------------------------------------------------------------------------
    def _is_grad_leaf(self) -> bool:
        from .autograd.graph import AccumulateGrad
        return isinstance(self._storage.grad_node, AccumulateGrad) and self._storage.node.needs_grad

    @property
    def requires_grad(self) -> bool:
        return self.node.needs_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if flag == self.requires_grad:
            return
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                               "a computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.dtype.name})")
        from .autograd.graph import AccumulateGrad, own
        from .ir.node import buffer_node
        s = self._storage
        engine.realize([s.node], s.node.device)
        s.node = buffer_node(s.node.buffer, s.node.dtype, s.node.shape, s.node.device, needs_grad=flag)
        s.grad_node = AccumulateGrad(s) if flag else None
        if flag:
            own(s.node, s.grad_node)
        self._view = None

    @property
    def is_leaf(self) -> bool:
        return not self.requires_grad or (not self._chain and self._is_grad_leaf())

    @property
    def grad_fn(self):
        return None if self.is_leaf else self._grad_node()

    @property
    def grad(self) -> "Tensor | None":
        if self.is_leaf and not self._chain:
            return self._storage.grad
        return self._retained_grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None and tuple(value.shape) != tuple(self.shape):
            raise RuntimeError(f"assigned grad has data of a different size: {tuple(value.shape)} vs "
                               f"{tuple(self.shape)}")
        if self.is_leaf and not self._chain:
            self._storage.grad = value
        else:
            self._retained_grad = value

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (built lazily as IR)."""
        from .autograd.api import backward
        backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook: Callable) -> Callable:
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        gn = self._grad_node()
        gn.hooks.append(hook)
        return RemovableHandle(gn.hooks, hook)

    def retain_grad(self) -> None:
        if self.is_leaf:
            return
        import weakref
        self._grad_node().retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return not self.is_leaf and self._grad_node().retained is not None

    def _grad_node(self):
        """The GradNode that gradients of this tensor's value flow into."""
        if self._chain:
            self.node  # noqa: B018  (reading the view records it)
            return self._view[3]
        return self._storage.grad_node

    def _dim(self, dim: int, op: str, ndim: int | None = None) -> int:
        """Wrap a possibly negative dim, raising PyTorch's IndexError when out of range."""
        ndim = self.ndim if ndim is None else ndim
        lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
        if not isinstance(dim, (int, np.integer)) or not lo <= dim <= hi:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{lo}, {hi}], "
                             f"but got {dim}) for a tensor of shape {tuple(self.shape)}")
        return int(dim) % max(ndim, 1)


class RemovableHandle:
    """Returned by register_hook: `.remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class Size(tuple):
    """The shape of a tensor: a tuple that prints as PyTorch's torch.Size."""

    def __repr__(self) -> str:
        return f"lazytensor.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)


def register(*names: str, function: bool = False) -> Callable:
    """Attach `fn` to Tensor under `names` (its own name by default); optionally export as lt.<name>."""
    def wrap(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
            if function:
                FUNCTIONS[name] = fn
        return fn
    return wrap


FUNCTIONS: dict[str, Callable] = {}
