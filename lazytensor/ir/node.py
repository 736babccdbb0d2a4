"""IR nodes: immutable, hash-consed (building an expression twice yields the same node).

A node is (op, dtype, shape, srcs, arg, device). The only mutation is realisation:
the engine attaches a device buffer and drops the sources, so the graph behind a
realised value can be freed.
"""
from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from itertools import compress
from operator import call
from typing import Any, Iterator

from . import ops as O
from .dtype import DType, bool_, wrap_integer
from .rewrite import simplify

Shape = tuple[int, ...]


# key -> weak reference to its node: a plain dict of plain references is a few times faster
# than weakref.WeakValueDictionary, and every op asks it once or twice. A dead node's entry
# stays until the table grows past twice the entries alive at its last sweep: a callback per
# node's death cost as much as building the node's key.
_CACHE: dict[tuple, weakref.ref] = {}
_ref = weakref.ref
_SWEEP_FROM = 4096
_sweep_at = _SWEEP_FROM


def _sweep() -> None:
    """Keep the entries of live nodes alone, and grow the table size that asks for the next
    sweep. The table is built again, by C iterators (a dead reference answers None, which
    compress drops): most entries are dead by now, and a Python loop over them cost a tenth
    of a microsecond per op recorded."""
    global _CACHE, _sweep_at
    _CACHE = dict(compress(_CACHE.items(), map(call, _CACHE.values())))
    _sweep_at = max(_SWEEP_FROM, 2 * len(_CACHE))


def _arg_key(arg: Any) -> Any:
    # -0.0 == 0.0 and nan != nan: key floats by their repr so they never alias.
    if isinstance(arg, float):
        return ("f", repr(arg))
    if isinstance(arg, tuple):
        for a in arg:  # the common argument, a shape or an axis order, is its own key
            if type(a) is not int:
                return tuple(_arg_key(a) for a in arg)
    return arg


class Epoch:
    """Counts realisations, so that a node knows which realisations ran before it was built
    (ir/schedule_cache.py: a value that a later realisation computes again is stored)."""
    now = 0
    # make() finds no node built before this epoch: an lt.jit capture starts one, so that an
    # expression the call builds is the call's own work, never a value pending from before
    # the call (which the capture realises outside the recording, into a tensor's memory
    # that holds another value at the next call)
    reuse_from = 0


@contextmanager
def fresh_nodes() -> Iterator[None]:
    """Inside, make() builds every node anew that was built before (a new epoch begins)."""
    outer = Epoch.reuse_from
    Epoch.now += 1
    Epoch.reuse_from = Epoch.now
    try:
        yield
    finally:
        Epoch.reuse_from = outer


class Node:
    """A value. What autograd knows about a value is autograd's (lazytensor/autodiff keeps it
    in tables keyed by the node), so the IR is the same whatever the grad mode."""

    __slots__ = ("op", "dtype", "shape", "srcs", "arg", "device", "buffer", "key", "born", "seen", "__weakref__")

    # made by new_node() alone (make, unique, private, buffer_node): no __init__

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
        ref = _CACHE.get(self.key) if self.key is not None else None
        if ref is not None and ref() is self:
            del _CACHE[self.key]
        self.key = None

    def __repr__(self) -> str:
        state = "realized" if self.realized else f"{len(self.srcs)} srcs"
        return f"<Node {self.op} {self.dtype.name} {self.shape} arg={self.arg!r} {state}>"


_new_object = object.__new__


def new_node(op: str, dtype: DType, shape: Shape, srcs: tuple[Node, ...], arg: Any, device: str,
             key: tuple | None = None) -> Node:
    """A node of these fields, not realised yet. Allocated, then a statement a field: an
    __init__ called through the class cost a third more, and every op builds a node."""
    node = _new_object(Node)
    node.op = op
    node.dtype = dtype
    node.shape = shape
    node.srcs = srcs
    node.arg = arg
    node.device = device
    node.buffer = None  # a runtime BufferView once realised
    node.key = key  # its entry in the hash-consing table (make's nodes)
    node.born = Epoch.now  # realisations begun before this node was built
    node.seen = -1  # the last realisation that computed it without storing it
    return node


# shape -> the same shape as a tuple of Python ints, one object per distinct shape
_SHAPES: dict[tuple, Shape] = {}
_SHAPES_KEPT = 1 << 16


def interned_shape(shape) -> Shape:
    """`shape` as a tuple of Python ints, without converting each size where the shape was met
    before: NumPy integers hash and compare as the ints they hold, so the lookup finds the
    canonical tuple (every node built asks)."""
    found = _SHAPES.get(shape) if type(shape) is tuple else None
    if found is None:
        found = tuple(map(int, shape))
        if len(_SHAPES) >= _SHAPES_KEPT:  # a long session of varying sizes: start again
            _SHAPES.clear()
        found = _SHAPES.setdefault(found, found)
    return found


def make(op: str, dtype: DType, shape: Shape, srcs: tuple[Node, ...] = (), arg: Any = None,
         device: str = "numpy") -> Node:
    """Build (or find) a node, after the construction-time rewrites."""
    assert op in O.ALL_OPS, op
    found = _SHAPES.get(shape) if type(shape) is tuple else None  # interned_shape's hit, inline
    shape = found if found is not None else interned_shape(shape)
    if srcs and op != "detach":  # detach is never folded away: it is the value autograd does not see through
        folded = simplify(op, dtype, shape, srcs, arg, device, make)
        if folded is not None:
            return folded
    # one flat tuple (a nested one for the sources is one more object for the garbage
    # collector to track per node), with the commonest arities spelt out: a third of map()'s
    # cost. The dtype is named by its name: a tuple of strings and numbers alone is left alone
    # by the collector after its first pass, and the table holds a key per node built
    arity = len(srcs)
    name = dtype.name
    if arity == 2:
        key = (op, name, shape, arg if arg is None else _arg_key(arg), device, id(srcs[0]), id(srcs[1]))
    elif arity == 1:
        key = (op, name, shape, arg if arg is None else _arg_key(arg), device, id(srcs[0]))
    else:
        key = (op, name, shape, arg if arg is None else _arg_key(arg), device, *map(id, srcs))
    ref = _CACHE.get(key)
    found = ref() if ref is not None else None
    if found is not None and found.srcs == srcs and found.born >= Epoch.reuse_from:
        return found
    node = new_node(op, dtype, shape, srcs, arg, device, key)
    _CACHE[key] = _ref(node)
    if len(_CACHE) > _sweep_at:
        _sweep()
    return node


def unique(op: str, src: Node) -> Node:
    """`op` ('detach', or a same-shape 'reshape') over `src`: the same value as a node of its
    own, never merged with another (a value that gets its own identity, as a leaf's content
    or a custom Function's output does for autograd)."""
    assert op in ("detach", "reshape"), op
    return new_node(op, src.dtype, src.shape, (src,), src.shape if op == "reshape" else None, src.device)


def private(node: Node) -> Node:
    """A node of the same value as `node` that hash-consing never returns: a leaf's value must
    not be realised as a view of a value another tensor holds."""
    return node if node.srcs or node.realized else new_node(node.op, node.dtype, node.shape, (), node.arg, node.device)


def buffer_node(buffer, dtype: DType, shape: Shape, device: str) -> Node:
    """A leaf holding device data (never hash-consed: each buffer is its own value)."""
    node = new_node("buffer", dtype, tuple(shape), (), None, device)
    node.buffer = buffer
    return node


# (value, dtype, shape, device) -> a weak reference to its const node: every op with a Python
# scalar asks, and this skips building make's key (a dead or realised entry is built again)
_CONSTS: dict[tuple, weakref.ref] = {}
_CONSTS_KEPT = 4096


def const(value, dtype: DType, shape: Shape, device: str) -> Node:
    if dtype.is_floating_point:  # the commonest first, without converting a float: every op with a scalar asks
        value = value if type(value) is float else float(value)
    else:
        value = bool(value) if dtype == bool_ else wrap_integer(int(value), dtype)
    key = (value, dtype, shape, device) if type(shape) is tuple else None
    ref = _CONSTS.get(key) if key is not None else None
    found = ref() if ref is not None else None
    if found is not None and found.buffer is None:  # one realised as a target is a buffer now
        return found
    node = make("const", dtype, shape, (), value, device)
    if key is not None and (value or type(value) is not float):  # 0.0 and -0.0 are equal keys
        if len(_CONSTS) >= _CONSTS_KEPT:
            _CONSTS.clear()
        _CONSTS[key] = weakref.ref(node)
    return node


def live_node_count() -> int:
    """How many hash-consed nodes are alive (a memory-flatness probe for tests)."""
    _sweep()
    return len(_CACHE)
