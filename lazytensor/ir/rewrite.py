"""Construction-time rewrites: constant folding, algebraic identities, view simplification.

`simplify` is asked before every node is built; it returns an existing node that
means the same thing (or one it builds with the `make` it is handed: this module sits
below ir/node.py, which calls it), or None to build the node as asked.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import ops as O
from .dtype import DType, from_storage, host_type, round_to, to_storage
from .semantics import ELEMENTWISE


def _is_const(n, value=None) -> bool:
    return n.op == "const" and n.buffer is None and (value is None or n.arg == value)



def _fold_elementwise(op, dtype, shape, srcs, arg, device, make):
    """`op` over constants alone, as one constant."""
    vals = [from_storage(to_storage(s.arg, s.dtype), s.dtype) for s in srcs]  # rounded to their dtypes
    with np.errstate(all="ignore"):
        out = vals[0] if op == "cast" else ELEMENTWISE[op](*vals)
    return make("const", dtype, shape, (), round_to(np.asarray(out).astype(host_type(dtype)).item(), dtype), device)


def _fold_movement(op, dtype, shape, srcs, arg, device, make):
    (src,) = srcs
    if _is_const(src) and (op != "pad" or arg[1] == src.arg):
        return make("const", dtype, shape, (), src.arg, device)
    if _is_noop(op, shape, src, arg):
        return src
    if op == src.op and not src.realized and src.key is not None:  # a unique() node is never merged into another
        if op in ("reshape", "expand"):
            return make(op, dtype, shape, src.srcs, arg, device)
        if op == "permute":
            inner = src.arg
            return make(op, dtype, shape, src.srcs, tuple(inner[i] for i in arg), device)
    return None


def _is_noop(op, shape, src, arg) -> bool:
    if op == "flip":
        return not any(arg)
    if op == "permute":
        return tuple(arg) == tuple(range(len(arg)))
    return shape == src.shape  # reshape, expand, shrink, pad that keep the shape change nothing


# op -> the constant that leaves the other operand as it is: x + -0.0, x - 0.0, x * 1, x / 1
# (not x + 0.0, which is 0.0 where x is -0.0; an integer zero does either)
_NEUTRAL = {"add": -0.0, "sub": 0.0, "mul": 1, "div": 1}
_COMMUTATIVE = ("add", "mul")


def _signed_alike(value, neutral) -> bool:
    """`value`, equal to `neutral`, is a float zero of the same sign (or no float at all)."""
    return type(value) is not float or math.copysign(1.0, value) == math.copysign(1.0, neutral)


def _algebraic_identity(op, dtype, shape, srcs):
    """The operand a cast to its own dtype, or an op with its neutral constant, leaves as it
    is (asked of every op with a scalar operand: the tests are inline, not _is_const calls)."""
    if op == "cast":
        return srcs[0] if srcs[0].dtype == dtype else None
    neutral = _NEUTRAL.get(op)
    if neutral is None:
        return None
    a, b = srcs
    if b.op == "const" and b.arg == neutral and b.buffer is None and _signed_alike(b.arg, neutral) \
            and a.dtype == dtype and a.shape == shape:
        return a
    if op in _COMMUTATIVE and a.op == "const" and a.arg == neutral and a.buffer is None \
            and _signed_alike(a.arg, neutral) and b.dtype == dtype and b.shape == shape:
        return b
    return None


def simplify(op: str, dtype: DType, shape, srcs, arg, device, make: Callable):
    if op in O.ELEMENTWISE:
        consts = neutrals = 0
        neutral = _NEUTRAL.get(op)
        for s in srcs:  # a loop, not sum(): this runs for every elementwise node built
            if s.op == "const" and s.buffer is None:
                consts += 1
                if neutral is not None and s.arg == neutral:
                    neutrals += 1
        if srcs and consts == len(srcs):
            return _fold_elementwise(op, dtype, shape, srcs, arg, device, make)
        # the common cases, asked per node built: no constant operand, or one that is not the
        # op's neutral one (x + 1.0), which leaves nothing for the identities to find
        if op != "cast" and not neutrals:
            return None
        return _algebraic_identity(op, dtype, shape, srcs)
    if op in O.MOVEMENT:
        return _fold_movement(op, dtype, shape, srcs, arg, device, make)
    return None
