"""The core of the user's Tensor: storage, views, realisation, attributes and autograd
metadata. The op families (elementwise.py, movement.py, ...) build on this class and make
their results with `wrap`; tensor.py joins them into `lazytensor.Tensor`, which is the
class `wrap` instantiates."""
from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from . import config
from .autodiff.graph import (_FOLLOWED_IDS, AccumulateGrad, GradFn, anything_followed, disown, follow, followed, follows_new,
                             identity_view, leaf_value, own, owned_by, record, result_value,
                             with_zero_gradient)
from . import capture, checks, host_sharing
from .capture import Touched, refuse_host_read
from .sites import note as note_site
from .sites import user_site
from .sites import RECORDING as SITES_RECORDING
from .ir import build as B
from .ir import dtype as D
from .ir.dtype import DType
from .ir.node import Node, buffer_node, private, unique
from .ir.schedule import keep
from .printing import tensor_repr
from .runtime import engine
from .runtime.devices import canonical_name, get_device
from .views import Chain, apply_chain, writable, writeback

if TYPE_CHECKING:
    from .tensor import Tensor


class device:
    """A device name, as `torch.device`: str() gives 'cl', 'cl:1' or 'numpy'."""

    def __init__(self, name):
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


_DEVICE_OBJECTS: dict[str, device] = {}  # node device name -> its (immutable) device object


class Storage:
    """The current node of some memory, how often it was written in place, and where
    gradients of its value flow (a leaf's AccumulateGrad or a recorded GradFn)."""

    __slots__ = ("node", "version", "grad_node", "grad", "__weakref__")

    def __init__(self, node: Node):
        self.node = node  # a statement a field: every op makes a storage
        self.version = 0
        self.grad_node = None
        self.grad = None  # a leaf's accumulated gradient
        if capture.ACTIVE is not None:
            capture.ACTIVE.created.add(self)


def touch(s: Storage) -> None:
    """Report `s` to the capture recording, if one is on and `s` is older than the call: its
    value pending from before the call is realised first, outside the recording."""
    rec = capture.ACTIVE
    if rec is None or rec.paused or id(s) in rec.touched or s in rec.created:
        return
    if not s.node.realized:
        with capture.paused():
            engine.realize([s.node], s.node.device)
    grad = None if s.grad is None else s.grad._storage
    rec.touched[id(s)] = Touched(s, s.node.buffer, followed(s.node), type(s.grad_node), grad)


def set_grad(s: Storage, value: "TensorBase | None") -> None:
    """A leaf's new accumulated gradient (reported to the capture recording)."""
    if capture.ACTIVE is not None:
        touch(s)
    capture.grad_written(s)
    s.grad = value


class TensorBase:
    # _grad_mode: whether grad was on when the tensor was made; a view decides by it whether
    # autograd follows it, whenever its node is built (first read, or again after an in-place
    # write to its storage), not by the mode of that moment
    __slots__ = ("_storage", "_chain", "_view", "_retained_grad", "_grad_mode", "__weakref__")
    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators

    def _setup(self, storage: Storage, chain: Chain) -> None:
        self._storage, self._chain, self._view = storage, chain, None
        self._retained_grad, self._grad_mode = None, config.GRAD_ENABLED

    # ---- building --------------------------------------------------------------------------
    def _view_of(self, op: str, arg) -> "Tensor":
        """A view sharing this tensor's storage (no copy; writes go through)."""
        t = _RESULT_TYPE.__new__(_RESULT_TYPE)
        t._setup(self._storage, self._chain + ((op, arg),))
        if not config.LAZY:
            t.realize()
        return t

    @property
    def node(self) -> Node:
        """The IR node for this tensor's current value."""
        if not self._chain:
            if capture.ACTIVE is None and not _FOLLOWED_IDS:  # _value's commonest answer, inline (asked per op)
                return self._storage.node
            return self._value()
        if capture.ACTIVE is not None:
            touch(self._storage)
        if self._view is None or self._view[0] != self._storage.version or self._view[1] is not self._storage.node:
            value = self._value()
            node = self._chain_node(value)
            grad_node = None
            if follows_new(node, self._grad_mode):
                follow(node)
                grad_node = record(node)  # a snapshot now: realising the view would forget its sources
                if node.op == "reshape" and node.srcs and node.shape == node.srcs[0].shape and isinstance(grad_node, GradFn):
                    grad_node.named_op = self._chain[-1][0]  # moved nothing: named as the view op asked for
            elif _FOLLOWED_IDS and not self._grad_mode and followed(self._storage.node):
                node = B.detach(node)  # made under no_grad: no gradient flows back through it, read when it may
            self._view = (self._storage.version, self._storage.node, node, grad_node)
        return self._view[2]

    def _chain_node(self, value: Node) -> Node:
        """The view chain applied to the storage's value. A step that moves nothing (or moves
        back to the value) over a value autograd follows gives a node of its own, so that the
        view is no leaf and has a grad_fn of its own, as in PyTorch (views of it read through
        that node, so their gradients reach it)."""
        if not (self._grad_mode and _FOLLOWED_IDS and followed(value)):
            return apply_chain(value, self._chain)
        node = value
        for i, (op, arg) in enumerate(self._chain):
            moved = B.movement(node, op, arg)
            identity = op != "detach" and (moved is node or moved is value)
            node = identity_view(moved, value, self._chain[:i + 1]) if identity else moved
        return node

    def _value(self) -> Node:
        """The storage's value as this tensor's ops read it. Hash-consing ignores grad mode, so
        a node may be shared: with a tensor whose gradients it carries (then only that tensor
        reads it as is), or with the work inside a later op. A value autograd does not follow
        for this tensor therefore reaches ops detached, so no gradient flows through it and an
        op's walk never reads through its history; a leaf or realised value has none. With
        grad off, an unfollowed value is read as it is: the op's result is not followed either,
        a later reading of it is detached, and a later op that builds the same node (hash-consing)
        builds the same expression, whose gradients are then that op's (inference reads half
        as many nodes)."""
        s = self._storage
        if capture.ACTIVE is not None:
            touch(s)
        n = s.node
        if not _FOLLOWED_IDS:  # followed(n) and anything_followed() in one test: nothing is followed
            return n
        if followed(n):
            return n if owned_by(n, s.grad_node) else B.detach(n)
        if n.srcs and n.buffer is None and config.GRAD_ENABLED:
            return B.detach(n)
        return n

    def _assign(self, value: Node) -> "Tensor":
        """Write `value` (this tensor's shape) into this tensor's region of its storage."""
        s = self._storage
        if capture.ACTIVE is not None:
            touch(s)
        leaf = self._is_grad_leaf()  # the storage is a leaf's: writes must keep it one
        if config.GRAD_ENABLED and leaf and self.requires_grad:
            raise RuntimeError(("a view of a " if self._chain else "a ") +
                               "leaf Variable that requires grad is being used in an in-place operation.")
        if not writable(s.node.shape, self._chain):
            raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                               "refers to a single memory location. Please clone() the tensor before "
                               "performing the operation.")
        if value.dtype != self.dtype:
            value = B.cast(value, self.dtype)
        value = B.broadcast_to(value, self.shape)
        if not (leaf or self._chain) and config.GRAD_ENABLED and followed(s.node) and not follows_new(value):
            value = with_zero_gradient(value, self._value())  # still requires grad, as PyTorch's
        reading = host_sharing.shared_reading(s.node)  # the caller's NumPy array (from_numpy)
        s.node = writeback(s.node, self._chain, value) if self._chain else value
        s.version += 1
        if reading is not None and (leaf or not follows_new(s.node)):
            s.node = host_sharing.write_through(s.node, reading)
        if leaf:  # an update under no_grad (an optimizer step): still the same leaf
            s.node = leaf_value(s.node, s.grad_node)
        elif follows_new(s.node):
            follow(s.node)
            s.grad_node = record(s.node, s)
            if isinstance(s.grad_node, GradFn):
                s.grad_node.rebase(s)
        if not config.LAZY:
            engine.realize([s.node], s.node.device)
        return self

    # ---- realisation -----------------------------------------------------------------------
    def realize(self) -> "Tensor":
        """Compute this tensor's value now (and only what it needs)."""
        self._realized_value()
        return self

    def _realized_value(self) -> Node:
        value = self.node  # the storage's node, or a view or detached reading of it
        nodes = [self._storage.node] + ([value] if value is not self._storage.node else [])
        engine.realize(nodes, self._storage.node.device)
        return value

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array: the very memory of a from_numpy tensor, else a copy."""
        refuse_host_read("Tensor.numpy()")
        value = self._realized_value()
        checks.raise_if_any()
        if host_sharing.shared_reading(value) is not None:
            return host_sharing.host_array(value.buffer)
        return D.from_storage(get_device(value.device).copyout(value.buffer), value.dtype)

    def __array__(self, dtype=None, copy=None):
        refuse_host_read("np.asarray(tensor)")
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"item(): a Tensor with {self.numel()} elements cannot be converted to Scalar")
        refuse_host_read("Tensor.item()")
        return self.numpy().reshape(()).item()

    def tolist(self):
        refuse_host_read("Tensor.tolist()")
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
        refuse_host_read("bool(tensor) (Python control flow on a tensor's value)")
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
        refuse_host_read("print() or repr() of a tensor")
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """f"{loss:.3f}" formats a 0-d tensor's value, as PyTorch does; other tensors take
        no format spec."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    @property
    def is_cuda(self) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    # ---- attributes ------------------------------------------------------------------------
    @property
    def shape(self) -> "Size":
        return Size(self._shape())

    def _shape(self) -> tuple[int, ...]:
        """The shape, from the storage's and the chain's shape rules alone: building the node
        to read its shape (a view's, or a detached reading) costs a hash-consing lookup or
        two, and every op's checks ask for shapes."""
        shape = self._storage.node.shape
        for op, arg in self._chain:
            shape = B.movement_shape(shape, op, arg)
        return shape

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        return self.shape[self._dim(dim, "size")]

    @property
    def dtype(self) -> DType:
        return self._storage.node.dtype

    @property
    def device(self) -> device:
        name = self._storage.node.device
        found = _DEVICE_OBJECTS.get(name)
        if found is None:
            found = _DEVICE_OBJECTS[name] = device(name)
        return found

    @property
    def ndim(self) -> int:
        return len(self._shape())

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return math.prod(self._shape())

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    @property
    def data(self) -> "Tensor":
        """A detached alias: same storage (writes go through), no autograd history."""
        t = _RESULT_TYPE.__new__(_RESULT_TYPE)
        t._setup(self._storage, self._chain + (("detach", None),))
        return t

    @data.setter
    def data(self, other: "Tensor") -> None:
        if other._storage is self._storage:  # `x.data -= ...` already wrote through the alias
            return
        value = other.node
        if followed(value):
            value = B.detach(value)
        if self._chain:
            raise RuntimeError("setting .data on a view is not supported; assign to the base tensor")
        s = self._storage
        touch(s)
        if followed(s.node) and s.grad_node is not None:  # keep the tensor's autograd identity
            engine.realize([value], value.device)
            old, s.node = s.node, buffer_node(value.buffer, value.dtype, value.shape, value.device)
            if isinstance(s.grad_node, GradFn):  # a non-leaf: its recorded value now has no holder
                s.grad_node.keep_out()
                disown(old)
            own(s.node, s.grad_node)
        else:
            s.node = value
        s.version += 1
        self._view = None

    # ---- autograd --------------------------------------------------------------------------
    def _is_grad_leaf(self) -> bool:
        return isinstance(self._storage.grad_node, AccumulateGrad) and followed(self._storage.node)

    @property
    def requires_grad(self) -> bool:
        return followed(self.node)

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
        if flag and self._chain:  # x.detach().requires_grad_(), x.t().requires_grad_(): a new leaf; x stays as it was
            self._storage, self._chain, self._view = Storage(self.node), (), None
        s = self._storage
        touch(s)
        s.grad_node = AccumulateGrad(s) if flag else None
        # a value of its own (nothing it shares a node with changes), left lazy: a module's
        # initial weights that a checkpoint then replaces are never computed
        n = s.node
        s.node = buffer_node(n.buffer, n.dtype, n.shape, n.device) if n.realized else keep(unique("detach", private(n)))
        if flag:
            own(s.node, s.grad_node)
        self._view = None

    def _detached_alias(self) -> bool:
        """A detached reading (x.detach(), x.data) of a storage that autograd follows. A view's
        autograd identity is its storage's, so no view becomes a leaf of its own in place (x
        would require grad, and the view would not): PyTorch's tensors share memory and keep
        their own identity, lazytensor's share both, and requires_grad_ gives such a view a
        storage of its own."""
        return any(op == "detach" for op, _ in self._chain) and followed(self._storage.node)

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
            set_grad(self._storage, value)
        else:
            self._retained_grad = value

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


def _check_finite(t: TensorBase, node: Node) -> None:
    """NANCHECK=1: raise naming the op and the user's line when `t` holds a NaN or inf."""
    if not t.dtype.is_floating_point or t.numel() == 0:
        return
    values = get_device(node.device).copyout(t._storage.node.buffer)
    if not np.isfinite(values).all():
        kind = "NaN" if np.isnan(values).any() else "inf"
        op = node.op if node.op != "reduce" else f"reduce ({node.arg[0]})"
        raise FloatingPointError(f"NANCHECK: {op} produced {kind} in a result of shape {tuple(node.shape)} "
                                 f"and dtype {node.dtype.name}, at {user_site()}")


def realize(*tensors: TensorBase) -> None:
    """Compute several tensors together (one schedule: shared work runs once)."""
    by_device: dict[str, list] = {}
    for t in tensors:
        nodes = by_device.setdefault(t._storage.node.device, [])
        nodes.append(t._storage.node)
        if t.node is not t._storage.node:
            nodes.append(t.node)
    for dev, nodes in by_device.items():
        engine.realize(nodes, dev)


_RESULT_TYPE: type = TensorBase  # the class users hold; tensor.py sets it to lazytensor.Tensor


def set_result_type(cls: type) -> None:
    """Make `wrap` and views build instances of `cls` (lazytensor.Tensor, which joins the
    op families to this core): the families live below that class and build on this one."""
    global _RESULT_TYPE
    _RESULT_TYPE = cls


_TOGETHER: list[list[tuple[TensorBase, Node]]] = []  # results made inside realised_together()


@contextmanager
def realised_together() -> Iterator[None]:
    """With LAZY=0 (or NANCHECK): the results made inside are realised together when the
    block ends, not one by one. Backward wraps several gradients whose graphs share nodes;
    realising one first would forget the nodes a later one's autograd record walks."""
    _TOGETHER.append([])
    try:
        yield
    finally:
        made = _TOGETHER.pop()
    realize(*(t for t, _ in made))
    if config.NANCHECK:
        for t, node in made:
            _check_finite(t, node)


def wrap(node: Node) -> TensorBase:
    """A new tensor holding `node`, as the user's Tensor class, owning a new storage (realised
    at once when LAZY=0). Every op ends here, so the work is inline: a call is a tenth of a
    microsecond (the site recording test is sites.recording's)."""
    t = _RESULT_TYPE.__new__(_RESULT_TYPE)
    if SITES_RECORDING or config.GRAPH is not None or config.VALIDATE:
        note_site(node)
    if _FOLLOWED_IDS and follows_new(node):  # the first test inline: most ops follow nothing
        node = result_value(node)
        storage = Storage(node)
        storage.grad_node = record(node, storage)
    else:
        storage = Storage(node)
    t._storage, t._chain, t._view, t._retained_grad, t._grad_mode = storage, (), None, None, config.GRAD_ENABLED
    if not config.LAZY or config.NANCHECK:
        if _TOGETHER:
            _TOGETHER[-1].append((t, node))
        else:
            t.realize()
            if config.NANCHECK:
                _check_finite(t, node)
    return t


def wrap_storage(storage: Storage, chain: Chain = ()) -> TensorBase:
    """A tensor over an existing storage, through the views in `chain` (no autograd
    recording: the caller set it up)."""
    t = _RESULT_TYPE.__new__(_RESULT_TYPE)
    t._setup(storage, chain)
    return t


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
