"""Number theory on integer tensors: gcd and lcm, by Euclid's algorithm unrolled to the most
steps any pair of the dtype needs, so one fused kernel computes it."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .elementwise import _require, prepare
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
    for position, (name, x) in enumerate((("input", a), ("other", b)), 1):
        if not isinstance(x, TensorBase):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not {type(x).__name__}")
    _require(op, lambda d: not d.is_floating_point and d.name != "bool", "integer", a, b)
    nodes, _ = prepare(op, a, b)
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
