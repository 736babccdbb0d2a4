"""Reverse-mode rules, one per IR op: IR in, IR out.

`RULES[op](node, srcs, grad)` returns one gradient node (or None) per source
of `node`, given the gradient flowing into it. `srcs` are the sources as they
were when autograd recorded the op (realising a node forgets its sources). Broadcasting is an expand in
the IR, so summing it back is the expand rule; every movement op has its inverse.
"""
from __future__ import annotations

from typing import Callable, Optional

from . import build as B
from . import ops as O
from .layout import inverse_permutation
from .node import Node, const

Grads = tuple[Optional[Node], ...]


def _c(like: Node, value) -> Node:
    return const(value, like.dtype, like.shape, like.device)


def _e(op: str, *srcs: Node) -> Node:
    return B.elementwise(op, *srcs)


def _sign(x: Node) -> Node:
    pos = B.cast(_e("lt", _c(x, 0), x), x.dtype)
    neg = B.cast(_e("lt", x, _c(x, 0)), x.dtype)
    return _e("sub", pos, neg)


def _pick(winner: Node, grad: Node) -> Node:
    return _e("where", winner, grad, _c(grad, 0))


def _max_min(n: Node, s, g: Node) -> Grads:
    """PyTorch's maximum / minimum backward: half each at a tie, and all of it to both where
    either is NaN (neither loses a comparison with a NaN)."""
    a, b = s
    a_loses = _e("lt", a, b) if n.op == "max" else _e("lt", b, a)
    b_loses = _e("lt", b, a) if n.op == "max" else _e("lt", a, b)
    shared = _e("where", _e("eq", a, b), _e("mul", g, _c(g, 0.5)), g)
    return _e("where", a_loses, _c(g, 0), shared), _e("where", b_loses, _c(g, 0), shared)


def _pow(n: Node, s, g: Node) -> Grads:
    a, b = s
    # d/da a**b = b * a**(b-1); PyTorch gives 0 where b == 0 (not 0 * inf at a == 0)
    da = _e("where", _e("eq", b, _c(b, 0)), _c(g, 0), _e("mul", g, _e("mul", b, _e("pow", a, _e("sub", b, _c(b, 1))))))
    # d/db a**b = a**b * log(a), 0 where a == 0 and b >= 0 (PyTorch's mask: not 0 * -inf); a
    # negative (or NaN) b keeps inf * -inf there
    scaled_log = _e("mul", n, _e("log", a))
    masked = _e("where", _e("le", _c(b, 0), b), _c(a, 0), scaled_log)
    db = _e("mul", g, _e("where", _e("eq", a, _c(a, 0)), masked, scaled_log))
    return da, db


def _atan2(n: Node, s, g: Node) -> Grads:
    y, x = s
    # PyTorch's form: (g * x) / (x^2 + y^2), with 0 where x = y = 0 (not 0 / 0)
    squares = _e("add", _e("mul", y, y), _e("mul", x, x))
    recip = _e("where", _e("eq", squares, _c(squares, 0)), _c(squares, 0), _e("recip", squares))
    return _e("mul", _e("mul", g, x), recip), _e("mul", _e("mul", g, _e("neg", y)), recip)


def _copysign(n: Node, s, g: Node) -> Grads:
    a, _ = s
    # the result over the magnitude is +-1; PyTorch gives 0 where the magnitude is 0
    ratio = _e("where", _e("eq", a, _c(a, 0)), _c(a, 0), _e("div", n, a))
    return _e("mul", g, ratio), _c(g, 0)  # the sign carries no gradient (PyTorch's is a zero tensor)


def _cast(n: Node, s, g: Node) -> Grads:
    (src,) = s
    return (B.cast(g, src.dtype) if src.dtype.is_floating_point else None,)


ELEMENTWISE_RULES: dict[str, Callable[[Node, tuple, Node], Grads]] = {
    "add": lambda n, s, g: (g, g),
    "sub": lambda n, s, g: (g, _e("neg", g)),
    "mul": lambda n, s, g: (_e("mul", g, s[1]), _e("mul", g, s[0])),
    "div": lambda n, s, g: (_e("div", g, s[1]),
                         _e("neg", _e("div", _e("mul", g, n), s[1]))),
    "neg": lambda n, s, g: (_e("neg", g),),
    "exp": lambda n, s, g: (_e("mul", g, n),),
    "log": lambda n, s, g: (_e("div", g, s[0]),),
    "sqrt": lambda n, s, g: (_e("div", _e("mul", g, _c(g, 0.5)), n),),
    "sin": lambda n, s, g: (_e("mul", g, _e("cos", s[0])),),
    "cos": lambda n, s, g: (_e("neg", _e("mul", g, _e("sin", s[0]))),),
    "tan": lambda n, s, g: (_e("mul", g, _e("add", _c(n, 1), _e("mul", n, n))),),
    "tanh": lambda n, s, g: (_e("mul", g, _e("sub", _c(n, 1), _e("mul", n, n))),),
    "recip": lambda n, s, g: (_e("neg", _e("mul", g, _e("mul", n, n))),),
    "abs": lambda n, s, g: (_e("mul", g, _sign(s[0])),),
    "log1p": lambda n, s, g: (_e("div", g, _e("add", s[0], _c(n, 1))),),
    "expm1": lambda n, s, g: (_e("mul", g, _e("add", n, _c(n, 1))),),
    "asin": lambda n, s, g: (_e("div", g, _e("sqrt", _e("sub", _c(g, 1), _e("mul", s[0], s[0])))),),
    "acos": lambda n, s, g: (_e("neg", _e("div", g, _e("sqrt", _e("sub", _c(g, 1), _e("mul", s[0], s[0]))))),),
    "atan": lambda n, s, g: (_e("div", g, _e("add", _c(g, 1), _e("mul", s[0], s[0]))),),
    "sinh": lambda n, s, g: (_e("mul", g, _e("cosh", s[0])),),
    "sigmoid": lambda n, s, g: (_e("mul", g, _e("mul", n, _e("sub", _c(n, 1), n))),),
    "cosh": lambda n, s, g: (_e("mul", g, _e("sinh", s[0])),),
    "asinh": lambda n, s, g: (_e("div", g, _e("sqrt", _e("add", _e("mul", s[0], s[0]), _c(g, 1)))),),
    # PyTorch's grad * rsqrt(x^2 - 1): +inf at -1 too, where (x - 1)(x + 1) is -0
    "acosh": lambda n, s, g: (_e("div", g, _e("sqrt", _e("sub", _e("mul", s[0], s[0]), _c(g, 1)))),),
    "atanh": lambda n, s, g: (_e("div", g, _e("sub", _c(g, 1), _e("mul", s[0], s[0]))),),
    "atan2": _atan2,
    "copysign": _copysign,
    "sign": lambda n, s, g: (_c(g, 0),),
    "floor": lambda n, s, g: (_c(g, 0),),
    "ceil": lambda n, s, g: (_c(g, 0),),
    "rint": lambda n, s, g: (_c(g, 0),),
    "trunc": lambda n, s, g: (_c(g, 0),),
    "max": _max_min,
    "min": _max_min,
    "pow": _pow,
    "fmod": lambda n, s, g: (g, _e("neg", _e("mul", g, _e("trunc", _e("div", s[0], s[1]))))),
    "where": lambda n, s, g: (None, _pick(s[0], g), _e("where", s[0], _c(g, 0), g)),
    "cast": _cast,
}
O.check_op_table("gradient rules (ir/grad.py)", ELEMENTWISE_RULES,
                 (name for name, op in O.REGISTRY.items() if op.differentiable))


def _reduce(n: Node, s, g: Node) -> Grads:
    op, axes = n.arg
    (src,) = s
    spread = B.expand(g, src.shape)
    if op == "sum":
        return (spread,)
    out = B.expand(n, src.shape)
    if op == "prod":
        return (_e("mul", spread, _prod_of_others(src, axes)),)
    hit = B.cast(_e("eq", src, out), src.dtype)  # ties share the gradient evenly, as PyTorch's amax
    count = B.expand(B.reduce(hit, "sum", axes), src.shape)
    return (_e("div", _e("mul", spread, hit), count),)


def _prod_of_others(src: Node, axes) -> Node:
    """For each element, the product of the others along `axes`, exact where zeros occur."""
    zero = _e("eq", src, _c(src, 0))
    nonzero_prod = B.expand(B.reduce(_e("where", zero, _c(src, 1), src), "prod", axes), src.shape)
    zeros = B.expand(B.reduce(B.cast(zero, src.dtype), "sum", axes), src.shape)
    no_zero = _e("div", nonzero_prod, _e("where", zero, _c(src, 1), src))
    only_this = _e("where", _e("eq", zeros, _c(src, 1)), nonzero_prod, _c(src, 0))
    return _e("where", zero, only_this, _e("where", _e("eq", zeros, _c(src, 0)), no_zero, _c(src, 0)))


def _expand(n: Node, s, g: Node) -> Grads:
    src = s[0]
    axes = tuple(i for i, (a, b) in enumerate(zip(src.shape, n.shape)) if a != b)
    return (B.reduce(g, "sum", axes),)


def _pad(n: Node, s, g: Node) -> Grads:
    widths, _ = n.arg
    return (B.shrink(g, tuple((b, b + size) for (b, _), size in zip(widths, s[0].shape))),)


def _shrink(n: Node, s, g: Node) -> Grads:
    return (B.pad(g, tuple((start, size - end) for (start, end), size in zip(n.arg, s[0].shape)), 0),)


def _gather(n: Node, s, g: Node) -> Grads:
    """Scatter-add the gradient back to where each element was read from."""
    src, index = s
    axis = n.arg
    rank = len(src.shape)
    last = tuple(i for i in range(rank) if i != axis) + (axis,)
    g_t, idx_t = B.permute(g, last), B.permute(index, last)
    summed = B.select_by_key(idx_t, g_t, src.shape[axis])
    return (B.permute(summed, inverse_permutation(last)), None)


RULES: dict[str, Callable[[Node, tuple, Node], Grads]] = {
    **ELEMENTWISE_RULES,
    "reduce": _reduce,
    "reshape": lambda n, s, g: (B.reshape(g, s[0].shape),),
    "permute": lambda n, s, g: (B.permute(g, inverse_permutation(n.arg)),),
    "expand": _expand,
    "pad": _pad,
    "shrink": _shrink,
    "flip": lambda n, s, g: (B.movement(g, "flip", n.arg),),
    "detach": lambda n, s, g: (None,),
    "gather": _gather,
}

# Ops whose gradient reads no forward value: an in-place change of their input is harmless.
# The piecewise-constant ones (a zero gradient) are here too, as PyTorch's save nothing.
LINEAR = frozenset({"add", "sub", "neg", "cast", "reduce", "reshape", "permute", "expand", "pad", "shrink",
                    "flip", "detach", "const", "iota", "buffer", "sign", "floor", "ceil", "rint", "trunc"})


# Ops whose gradient reads their own output value.
SAVES_OUTPUT = frozenset({"exp", "sqrt", "tan", "tanh", "recip", "expm1", "pow", "div", "reduce", "sigmoid"})
