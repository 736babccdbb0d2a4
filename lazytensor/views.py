"""Functionalised views: a tensor is (storage, chain of movement ops).

Reading a view applies its chain to the storage's current node. Writing through
a view (an in-place op) builds the storage's next version: the new values
placed in the viewed region, the old values elsewhere; every view of the same
storage re-derives from it. Nothing is copied or realised to do this.
"""
from __future__ import annotations

from .ir import build as B
from .ir.dtype import bool_
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


def _unpermute(value: Node, arg, parent: Node) -> Node:
    inverse = [0] * len(arg)
    for i, p in enumerate(arg):
        inverse[p] = i
    return B.permute(value, tuple(inverse))


UNAPPLY = {
    "reshape": lambda value, arg, parent: B.reshape(value, parent.shape),
    "permute": _unpermute,
    "shrink": _unshrink,
    "pad": _unpad,
    "flip": lambda value, arg, parent: B.movement(value, "flip", arg),
}


def writable(chain: Chain) -> bool:
    """Writes through an expand would hit one element many times (PyTorch refuses too)."""
    return all(op != "expand" for op, _ in chain)


def writeback(base: Node, chain: Chain, value: Node) -> Node:
    """The base's next version after writing `value` into the region `chain` views."""
    parents = [base]
    for op, arg in chain[:-1]:
        parents.append(B.movement(parents[-1], op, arg))
    for (op, arg), parent in zip(reversed(chain), reversed(parents)):
        value = UNAPPLY[op](value, arg, parent)
    return value
