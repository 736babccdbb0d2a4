"""Reference semantics of every elementwise op, as NumPy functions.

One table serves constant folding and the NumPy backend's rendering, so the
two can never disagree. OpenCL's rendering (codegen/render_opencl.py) must
match these definitions.
"""
from __future__ import annotations

import numpy as np

from .ops import REGISTRY, check_op_table


def _floordiv(a, b):
    if np.issubdtype(np.asarray(a).dtype, np.integer):
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, 0, np.floor_divide(a, safe))
    return np.floor_divide(a, b)


def _mod(a, b):
    if np.issubdtype(np.asarray(a).dtype, np.integer):
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, 0, np.remainder(a, safe))
    return np.remainder(a, b)


def _fmod(a, b):
    """C's remainder: the dividend's sign, exact for floats (np.fmod); an integer's by 0 is 0."""
    if np.issubdtype(np.asarray(a).dtype, np.integer):
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, 0, np.fmod(a, safe))
    return np.fmod(a, b)


def _div(a, b):
    return np.true_divide(a, b).astype(np.result_type(a, b), copy=False)


def _sigmoid(a):
    """1 / (1 + exp(-x)), as PyTorch computes it (exp's overflow below -88 gives the 0 it should)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(np.negative(a)))


def _sign(a):
    """-1, 0 or 1, as PyTorch's: +0.0 at -0.0, and 0 at NaN (where np.sign gives NaN)."""
    a = np.asarray(a)
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


TANH_ONE = np.float32(9.010913)  # from here on float32 rounds tanh to +-1


def _tanh(a):
    """NumPy's float32 tanh stops one step short of 1 for |x| up to about 10 (tanh(9.5) is
    0.99999994, torch's and the correctly rounded value 1, as OpenCL's LT_TANH gives)."""
    out = np.tanh(a)
    if out.dtype.itemsize <= 4:
        out = np.where(np.abs(a) >= TANH_ONE, np.sign(a).astype(out.dtype), out)
    return out


def _shift_amount(b):
    return np.asarray(b) & 31


ELEMENTWISE = {
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": _tanh,
    "recip": np.reciprocal,
    "abs": np.abs,
    "sign": _sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "rint": np.rint,
    "trunc": np.trunc,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "atan2": np.arctan2,
    "copysign": np.copysign,
    "sigmoid": _sigmoid,
    "not": np.logical_not,
    "bitnot": np.invert,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _div,
    "idiv": _floordiv,
    "mod": _mod,
    "fmod": _fmod,
    "max": np.maximum,
    "min": np.minimum,
    "pow": np.power,
    "lt": np.less,
    "le": np.less_equal,
    "eq": np.equal,
    "ne": np.not_equal,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
    "shl": lambda a, b: np.left_shift(a, _shift_amount(b).astype(np.asarray(a).dtype)),
    "shr": lambda a, b: np.right_shift(a, _shift_amount(b).astype(np.asarray(a).dtype)),
    "where": np.where,
}

check_op_table("NumPy semantics (ir/semantics.py)", ELEMENTWISE, (name for name in REGISTRY if name != "cast"),
               lambda name: getattr(ELEMENTWISE[name], "nin", None))
