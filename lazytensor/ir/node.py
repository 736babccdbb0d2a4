"""IR nodes: immutable, hash-consed (building an expression twice yields the same node).

A node is (op, dtype, shape, srcs, arg, device). The only mutation is realisation:
the engine attaches a device buffer and drops the sources, so the graph behind a
realised value can be freed.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

from .. import config
from . import ops as O
from .dtype import DType, bool_

Shape = tuple[int, ...]

_CACHE: "weakref.WeakValueDictionary[tuple, Node]" = weakref.WeakValueDictionary()


def _arg_key(arg: Any) -> Any:
    # -0.0 == 0.0 and nan != nan: key floats by their repr so they never alias.
    if isinstance(arg, float):
        return ("f", repr(arg))
    if isinstance(arg, tuple):
        return tuple(_arg_key(a) for a in arg)
    return arg


class Node:
    __slots__ = ("op", "dtype", "shape", "srcs", "arg", "device", "buffer", "key", "needs_grad",
                 "grad_owner", "__weakref__")

    def __init__(self, op: str, dtype: DType, shape: Shape, srcs: tuple["Node", ...], arg: Any,
                 device: str, needs_grad: bool = False):
        self.op, self.dtype, self.shape, self.srcs, self.arg, self.device = op, dtype, shape, srcs, arg, device
        self.buffer = None  # a runtime BufferView once realised
        self.key = None
        self.needs_grad = needs_grad  # on a path from a tensor that requires grad (autograd keeps it)
        self.grad_owner = None  # (GradNode, slot) that gradients of this value flow into

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def realized(self) -> bool:
        return self.buffer is not None

    def attach(self, buffer) -> None:
        """Realise: hold the buffer, forget the graph behind (so it can be freed)."""
        self.buffer = buffer
        self.srcs = ()
        if self.key is not None and _CACHE.get(self.key) is self:
            del _CACHE[self.key]
        self.key = None

    def __repr__(self) -> str:
        state = "realized" if self.realized else f"{len(self.srcs)} srcs"
        return f"<Node {self.op} {self.dtype.name} {self.shape} arg={self.arg!r} {state}>"


def make(op: str, dtype: DType, shape: Shape, srcs: tuple[Node, ...] = (), arg: Any = None,
         device: str = "numpy") -> Node:
    """Build (or find) a node, after the construction-time rewrites."""
    from .rewrite import simplify  # rewrite builds nodes with make(): import late

    assert op in O.ALL_OPS, op
    shape = tuple(int(s) for s in shape)
    needs_grad = (config.GRAD_ENABLED and dtype.is_floating_point and op != "detach"
                  and any(s.needs_grad for s in srcs))
    folded = None if op == "detach" else simplify(op, dtype, shape, srcs, arg, device)
    # never gain or lose autograd history; and x*1 stays a new value when autograd tracks it
    if folded is not None and folded.needs_grad == needs_grad and not (needs_grad and folded in srcs):
        return folded
    key = (op, dtype, shape, tuple(id(s) for s in srcs), _arg_key(arg), device, needs_grad)
    found = _CACHE.get(key)
    if found is not None and found.srcs == srcs:
        return found
    node = Node(op, dtype, shape, srcs, arg, device, needs_grad)
    node.key = key
    _CACHE[key] = node
    return node


def buffer_node(buffer, dtype: DType, shape: Shape, device: str, needs_grad: bool = False) -> Node:
    """A leaf holding device data (never hash-consed: each buffer is its own value)."""
    node = Node("buffer", dtype, tuple(shape), (), None, device, needs_grad)
    node.buffer = buffer
    return node


def const(value, dtype: DType, shape: Shape, device: str) -> Node:
    value = bool(value) if dtype == bool_ else (float(value) if dtype.is_floating_point else int(value))
    return make("const", dtype, shape, (), value, device)


def live_node_count() -> int:
    """How many hash-consed nodes are alive (a memory-flatness probe for tests)."""
    return len(_CACHE)
