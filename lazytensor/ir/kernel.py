"""A kernel as the scheduler hands it on: its outputs, what it reads, its scalar arguments,
and its structural signature, all found in one walk over its subgraph.

The signature holds everything that shapes the kernel's code and nothing that doesn't:
two kernels with equal keys render to the same source, so the engine can skip lowering
and rendering on a hit. Dtypes are named by their names (a key of strings and numbers is
left alone by Python's garbage collector, and the caches keep many keys). Constants are numbered, not valued (they are kernel arguments);
input buffers are described by dtype and layout. Inputs and arguments are numbered in
one canonical order that lowering and launching reuse.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .dtype import DType, compute_dtype
from .layout import contiguous_strides
from .node import Node, _arg_key
from .traverse import postorder


@dataclass(frozen=True)
class KernelSpec:
    outputs: tuple[Node, ...]  # all of one shape, stored at the same index
    inputs: tuple[Node, ...]  # buffer slot len(outputs)+i holds inputs[i]
    args: tuple[tuple[object, DType], ...]  # scalar kernel arguments: (value, compute dtype)
    key: tuple  # the structural signature
    arg_sources: tuple[tuple[Node, str], ...] = ()  # per argument: the node it comes from, and how

    @cached_property
    def input_ids(self) -> frozenset[int]:
        return frozenset(id(n) for n in self.inputs)

    def reads(self, n: Node) -> bool:
        """Is `n` one of the buffers this kernel loads (rather than computes)?"""
        return id(n) in self.input_ids


def arg_value(node: Node, kind: str):
    """The scalar argument `node` supplies: a const's value, a pad's fill, a gather's 0."""
    return node.arg if kind == "const" else node.arg[1] if kind == "pad" else 0


class _Numbering:
    def __init__(self):
        self.inputs: list[Node] = []
        self.args: list[tuple[object, DType]] = []
        self.arg_sources: list[tuple[Node, str]] = []
        self._input_slots: dict[int, int] = {}
        self._arg_slots: dict[tuple, int] = {}

    def input_slot(self, n: Node) -> int:
        if id(n) not in self._input_slots:
            self._input_slots[id(n)] = len(self.inputs)
            self.inputs.append(n)
        return self._input_slots[id(n)]

    def arg_slot(self, value, dtype: DType, source: tuple[Node, str]) -> object:
        cd = compute_dtype(dtype)
        if cd.name == "bool":
            return ("lit", bool(value))
        key = (repr(value), cd)
        if key not in self._arg_slots:
            self._arg_slots[key] = len(self.args)
            self.args.append((value, cd))
            self.arg_sources.append(source)
        return ("arg", self._arg_slots[key])


def kernel_spec(outs: tuple[Node, ...], materialised: set[int]) -> KernelSpec:
    """The spec of the kernel storing `outs`: it loads realised nodes and other kernels' outputs."""
    out_ids = {id(o) for o in outs}

    def is_leaf(n: Node) -> bool:
        return n.realized or (id(n) not in out_ids and id(n) in materialised)

    numbering = _Numbering()
    parts: list[tuple] = []
    local: dict[int, int] = {}
    for n in postorder(list(outs), lambda n: () if is_leaf(n) else n.srcs):
        local[id(n)] = len(parts)
        parts.append(_part(n, is_leaf(n), numbering, local))
    parts.append(("outputs", tuple(local[id(o)] for o in outs)))
    return KernelSpec(tuple(outs), tuple(numbering.inputs), tuple(numbering.args), tuple(parts),
                      tuple(numbering.arg_sources))


def _part(n: Node, leaf: bool, numbering: _Numbering, local: dict[int, int]) -> tuple:
    if leaf:
        view = n.buffer
        layout = (view.strides, view.offset) if view is not None else (contiguous_strides(n.shape), 0)
        return ("in", numbering.input_slot(n), n.dtype.name, n.shape, layout)
    if n.op == "const":
        return ("const", n.dtype.name, n.shape, numbering.arg_slot(n.arg, n.dtype, (n, "const")))
    extra = None
    if n.op == "pad":
        extra = numbering.arg_slot(n.arg[1], n.dtype, (n, "pad"))
    elif n.op == "gather":
        extra = numbering.arg_slot(0, n.dtype, (n, "zero"))
    arg = n.arg[0] if n.op == "pad" else n.arg
    return (n.op, n.dtype.name, n.shape, _arg_key(arg), extra, tuple(local[id(s)] for s in n.srcs))


SIZE_ARGS = frozenset({"reshape", "expand", "shrink", "pad"})  # ops whose argument is made of sizes


def size_free(key: tuple) -> tuple:
    """A kernel signature with its sizes left out (shapes, strides, offsets, the sizes in
    movement ops' arguments; which axes are broadcast stays): the kernels of one program
    at different lengths share it. A detach is its source's value (it lowers to nothing), so
    it is left out too: whether a tensor's value reaches an op detached depends on whether
    autograd follows anything else in the process (TensorBase._value), and the same code at
    two lengths must not make two families because an unrelated tensor died in between."""
    out = []
    at: dict[int, int] = {}  # the key's positions -> their positions in `out` (a detach: its source's)
    for i, part in enumerate(key):
        tag = part[0]
        if tag == "in":
            _, slot, dtype, shape, (strides, _offset) = part
            out.append(("in", slot, dtype, len(shape), broadcast_axes(shape, strides)))
        elif tag == "const":
            out.append(("const", part[1], len(part[2]), part[3]))
        elif tag == "outputs":
            out.append(("outputs", tuple(at[s] for s in part[1])))
        else:
            op, dtype, shape, arg, extra, srcs = part
            if op == "detach":
                at[i] = at[srcs[0]]
                continue
            out.append((op, dtype, len(shape), without_ints(arg) if op in SIZE_ARGS else arg, extra,
                        tuple(at[s] for s in srcs)))
        at[i] = len(out) - 1
    return tuple(out)


def broadcast_axes(shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[bool, ...]:
    """Which axes of an input's layout are broadcast (stride 0 over more than one element): a
    size-1 axis is never, whatever stride it was given, so a length that grows from 1 keeps
    its layout's kind."""
    return tuple(st == 0 and n != 1 for n, st in zip(shape, strides))


def without_ints(arg):
    """`arg` with every int in it replaced by None."""
    if isinstance(arg, tuple):
        return tuple(without_ints(a) for a in arg)
    return None if isinstance(arg, int) else arg
