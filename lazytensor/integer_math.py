"""Number theory on integer tensors: gcd and lcm, by Euclid's algorithm unrolled to the most
steps any pair of the dtype needs, so one fused kernel computes it."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .elementwise import _require, describe, prepare
from .ir import build as B
from .ir.node import Node
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor

_GOLDEN = (1 + math.sqrt(5)) / 2


def _euclid_steps(bits: int) -> int:
    """Lamé: Euclid on numbers below 2**bits takes at most log_phi(2**bits) + 2 steps."""
    return math.ceil(bits / math.log2(_GOLDEN)) + 2


def _gcd_node(a: Node, b: Node) -> Node:
    x, y = B.elementwise("abs", a), B.elementwise("abs", b)
    zero, one = B.full_like_node(y, 0), B.full_like_node(y, 1)
    for _ in range(_euclid_steps(8 * a.dtype.itemsize)):
        done = B.elementwise("eq", y, zero)
        # a finished pair divides by 1 (its value is not used): an integer mod by 0 would trap
        rest = B.elementwise("mod", x, B.elementwise("where", done, one, y))
        x, y = B.elementwise("where", done, x, y), B.elementwise("where", done, zero, rest)
    return x


def _integer_operands(op: str, a, b) -> list[Node]:
    """The operands promoted to their integer type (a bool beside an integer is one)."""
    for position, (name, x) in enumerate((("input", a), ("other", b)), 1):
        if not isinstance(x, TensorBase):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not {type(x).__name__}")
    _require(op, lambda d: not d.is_floating_point, "integer", a, b)
    nodes, dt = prepare(op, a, b)
    if dt.name == "bool":
        raise TypeError(f"{op}: expected integer tensors, got two bool operands ({describe(a, b)})")
    return nodes


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """The greatest common divisor of |input| and |other| (gcd(0, 0) = 0)."""
    return wrap(_gcd_node(*_integer_operands("gcd", input, other)))


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """The least common multiple of |input| and |other| (0 where either is 0)."""
    a, b = _integer_operands("lcm", input, other)
    g = _gcd_node(a, b)
    zero = B.full_like_node(g, 0)
    divisor = B.elementwise("where", B.elementwise("eq", g, zero), B.full_like_node(g, 1), g)
    return wrap(B.elementwise("abs", B.elementwise("mul", B.elementwise("idiv", a, divisor), b)))


def _shift(op: str, ir_op: str, a, b) -> Tensor:
    """a shifted by b bits, as PyTorch shifts: a shift by a negative amount or by the width or
    more gives 0 (a negative number shifted right gives -1)."""
    _require(op, lambda d: not d.is_floating_point, "integer", a, b)
    (x, amount), dt = prepare(op, a, b)
    if dt.name == "bool":
        raise TypeError(f"{op}: expected integer tensors, got two bool operands")
    bits = 8 * dt.itemsize

    def c(value) -> Node:
        return B.full_like_node(amount, value)
    # the IR shifts by the amount's low 5 bits (C's shift by the width or more is undefined):
    # a 64-bit shift by 32 or more takes the 32 as two shifts by 16
    out = B.elementwise(ir_op, x, B.elementwise("and", amount, c(31)))
    if bits > 32:
        by_32 = B.elementwise(ir_op, B.elementwise(ir_op, out, c(16)), c(16))
        out = B.elementwise("where", B.elementwise("ne", B.elementwise("and", amount, c(32)), c(0)), by_32, out)
    beyond = B.elementwise("or", B.elementwise("lt", amount, c(0)), B.elementwise("le", c(bits), amount))
    fill = B.full_like_node(x, 0)
    if ir_op == "shr" and dt.is_signed:
        fill = B.elementwise("where", B.elementwise("lt", x, fill), B.full_like_node(x, -1), fill)
    return wrap(B.elementwise("where", beyond, fill, out))


def bitwise_left_shift(input, other) -> Tensor:
    return _shift("bitwise_left_shift", "shl", input, other)


def bitwise_right_shift(input, other) -> Tensor:
    return _shift("bitwise_right_shift", "shr", input, other)
