"""A kernel's structural signature: everything that shapes its code, nothing that doesn't.

Two kernels with equal signatures render to the same source, so the engine can
skip lowering and rendering on a hit. Constants are numbered, not valued (they
are kernel arguments); input buffers are described by dtype and layout.
Inputs and arguments are numbered in one canonical order that lowering reuses.
"""
from __future__ import annotations

from typing import Callable


from ..ir.node import Node, _arg_key
from ..ir.traverse import postorder
from .lower import compute_dtype, contiguous_strides


class Signature:
    def __init__(self):
        self.parts: list[tuple] = []
        self.inputs: list[Node] = []
        self.args: list[tuple[object, object]] = []
        self._input_slots: dict[int, int] = {}
        self._arg_slots: dict[tuple, int] = {}

    def input_slot(self, n: Node) -> int:
        if id(n) not in self._input_slots:
            self._input_slots[id(n)] = len(self.inputs)
            self.inputs.append(n)
        return self._input_slots[id(n)]

    def arg_slot(self, value, dtype) -> object:
        cd = compute_dtype(dtype)
        if cd.name == "bool":
            return ("lit", bool(value))
        key = (repr(value), cd)
        if key not in self._arg_slots:
            self._arg_slots[key] = len(self.args)
            self.args.append((value, cd))
        return ("arg", self._arg_slots[key])

    @property
    def key(self) -> tuple:
        return tuple(self.parts)


def signature(outs: tuple[Node, ...], is_input: Callable[[Node], bool]) -> Signature:
    sig = Signature()
    out_ids = {id(o) for o in outs}

    def is_leaf(n: Node) -> bool:
        return n.realized or (id(n) not in out_ids and is_input(n))

    local: dict[int, int] = {}
    for n in postorder(list(outs), lambda n: () if is_leaf(n) else n.srcs):
        if is_leaf(n):
            view = n.buffer
            layout = (view.strides, view.offset) if view is not None else (contiguous_strides(n.shape), 0)
            part = ("in", sig.input_slot(n), n.dtype, n.shape, layout)
        elif n.op == "const":
            part = ("const", n.dtype, n.shape, sig.arg_slot(n.arg, n.dtype))
        else:
            extra = None
            if n.op == "pad":
                extra = sig.arg_slot(n.arg[1], n.dtype)
            elif n.op == "gather":
                extra = sig.arg_slot(0, n.dtype)
            arg = n.arg[0] if n.op == "pad" else n.arg
            part = (n.op, n.dtype, n.shape, _arg_key(arg), extra, tuple(local[id(s)] for s in n.srcs))
        local[id(n)] = len(sig.parts)
        sig.parts.append(part)
    sig.parts.append(("outputs", tuple(local[id(o)] for o in outs)))
    return sig



