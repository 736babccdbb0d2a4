"""The IR's operations, grouped as the scheduler and the lowering see them.

Each elementwise op is defined once here (name, arity, result-dtype rule); its
rendering lives in one table per backend (codegen/render_*.py) and its gradient
in ir/grad.py. A table beats a ladder of ifs.
"""
from __future__ import annotations

UNARY = frozenset({
    "neg", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "recip", "abs",
    "floor", "ceil", "rint", "trunc", "log1p", "expm1", "not", "bitnot",
})
BINARY = frozenset({
    "add", "sub", "mul", "div", "idiv", "mod", "max", "min", "pow",
    "lt", "le", "eq", "ne", "and", "or", "xor", "shl", "shr",
})
TERNARY = frozenset({"where"})
COMPARISONS = frozenset({"lt", "le", "eq", "ne"})
ELEMENTWISE = UNARY | BINARY | TERNARY | {"cast"}

REDUCE_OPS = ("sum", "prod", "max", "min")
# 'detach' is the identity that autograd does not see through.
MOVEMENT = frozenset({"reshape", "permute", "expand", "pad", "shrink", "flip", "detach"})
# Leaves: 'buffer' holds device data, 'const' a scalar filled to a shape,
# 'iota' the index along one axis (arange and masks are built from it).
LEAVES = frozenset({"buffer", "const", "iota"})
# 'gather' reads its first source at an index held in the data of its second.
ALL_OPS = ELEMENTWISE | MOVEMENT | LEAVES | {"reduce", "gather"}
