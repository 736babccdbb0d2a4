"""Functionalised views: a tensor is (storage, chain of movement ops).

Reading a view applies its chain to the storage's current node. Writing through
a view (an in-place op) builds the storage's next version: the new values
placed in the viewed region, the old values elsewhere; every view of the same
storage re-derives from it. Nothing is copied or realised to do this.
"""
from __future__ import annotations

import math

from .ir import build as B
from .ir.dtype import bool_
from .ir.layout import contiguous_strides, inverse_permutation
from .ir.node import Node, const

Chain = tuple[tuple[str, object], ...]


def apply_chain(node: Node, chain: Chain) -> Node:
    for op, arg in chain:
        node = B.movement(node, op, arg)
    return node


def _region_mask(inner_shape, parent: Node, widths) -> Node:
    inside = const(True, bool_, inner_shape, parent.device)
    return B.pad(inside, widths, False)


def _unshrink(value: Node, arg, parent: Node) -> Node:
    widths = tuple((s, n - e) for (s, e), n in zip(arg, parent.shape))
    placed = B.pad(value, widths, 0)
    return B.elementwise("where", _region_mask(value.shape, parent, widths), placed, parent)


def _unpad(value: Node, arg, parent: Node) -> Node:
    widths, _ = arg
    return B.shrink(value, tuple((b, b + n) for (b, _), n in zip(widths, parent.shape)))


UNAPPLY = {
    "detach": lambda value, arg, parent: value,
    "reshape": lambda value, arg, parent: B.reshape(value, parent.shape),
    "permute": lambda value, arg, parent: B.permute(value, inverse_permutation(arg)),
    "shrink": _unshrink,
    "pad": _unpad,
    "flip": lambda value, arg, parent: B.movement(value, "flip", arg),
    "expand": lambda value, arg, parent: value,  # written through only where it repeats nothing (writable)
}


def _reshape_strides(old: tuple, old_strides: list, new: tuple) -> list[int] | None:
    """Strides that view `old` (with old_strides) as shape `new`, or None (PyTorch's rule)."""
    if not old or math.prod(old) == 0:
        return list(contiguous_strides(new))
    new_strides = [0] * len(new)
    view_d = len(new) - 1
    base = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and old_strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                new_strides[view_d] = view_numel * base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = old_strides[d - 1]
                tensor_numel = view_numel = 1
    return new_strides if view_d == -1 else None


def strides_of(shape: tuple, chain: Chain) -> list[int] | None:
    """The element strides of `chain` applied to contiguous memory of `shape`,
    or None when no strided layout describes it (PyTorch would have copied). A size-1 axis
    addresses one element whatever its stride, and PyTorch's rule never reads such a stride
    except to skip it, so the layout's strides (0 there) decide exactly as PyTorch's would."""
    layout = layout_of(shape, chain)
    return None if layout is None else layout[0]


def layout_of(shape: tuple, chain: Chain) -> tuple[list[int], int] | None:
    """The strides and the storage offset (in elements) of `chain` over contiguous memory
    of `shape`, or None (see strides_of)."""
    strides, offset = list(contiguous_strides(shape)), 0
    for op, arg in chain:
        if op == "reshape":
            strides = _reshape_strides(tuple(shape), strides, tuple(arg))
            if strides is None:
                return None
        elif op == "permute":
            strides = [strides[p] for p in arg]
        elif op == "expand":
            strides = [0 if a != b else s for s, a, b in zip(strides, shape, arg)]
        elif op == "shrink":
            offset += sum(start * s for (start, _), s in zip(arg, strides))
        elif op == "pad":  # in a chain only rounds a stepped slice up, at the end
            offset -= sum(before * s for (before, _), s in zip(arg[0], strides))
        elif op != "detach":
            return None
        shape = B.movement_shape(tuple(shape), op, arg)
    return strides, offset


def writable(shape: tuple, chain: Chain) -> bool:
    """Writes through an expand that repeats elements would hit one element many times
    (PyTorch refuses too); an expand to the shape it had repeats nothing. `shape` is the
    storage's: every chain step is a movement op, whose shape B.movement_shape gives."""
    for op, arg in chain:
        if op == "expand" and tuple(arg) != tuple(shape):
            return False
        shape = B.movement_shape(shape, op, arg)
    return True


def writeback(base: Node, chain: Chain, value: Node) -> Node:
    """The base's next version after writing `value` into the region `chain` views."""
    parents = [base]
    for op, arg in chain[:-1]:
        parents.append(B.movement(parents[-1], op, arg))
    for (op, arg), parent in zip(reversed(chain), reversed(parents)):
        value = UNAPPLY[op](value, arg, parent)
    return value
