"""The IR's operations, grouped as the scheduler and the lowering see them.

Each elementwise op is defined once here (`ElementwiseOp`: name, arity, whether
its result is bool, whether it has a gradient). Every backend keeps one table
of how it computes the ops (ir/semantics.py for NumPy and constant folding,
codegen/render_opencl.py for OpenCL C, ir/grad.py for gradients) and checks it
against this registry when it is imported, so a backend missing an op is an
error at import, not a surprise at run time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .dtype import DType, value_range


@dataclass(frozen=True)
class ElementwiseOp:
    name: str
    arity: int
    returns_bool: bool = False  # comparisons: the operands' dtype goes in, bool comes out
    differentiable: bool = True


def _family(arity: int, names: str, **flags) -> tuple[ElementwiseOp, ...]:
    return tuple(ElementwiseOp(name, arity, **flags) for name in names.split())


_NO_GRAD = {"differentiable": False}
REGISTRY: Mapping[str, ElementwiseOp] = {op.name: op for op in (
    *_family(1, "neg exp log sqrt sin cos tan tanh recip abs sign floor ceil rint trunc log1p expm1"),
    *_family(1, "asin acos atan sinh cosh asinh acosh atanh sigmoid"),
    *_family(1, "not bitnot", **_NO_GRAD),
    *_family(2, "add sub mul div max min pow fmod atan2 copysign"),
    *_family(2, "idiv mod and or xor shl shr", **_NO_GRAD),
    *_family(2, "lt le eq ne", returns_bool=True, **_NO_GRAD),
    *_family(3, "where"),
    ElementwiseOp("cast", 1),  # its result dtype is the node's own; every backend special-cases it
)}

UNARY = frozenset(op.name for op in REGISTRY.values() if op.arity == 1 and op.name != "cast")
BINARY = frozenset(op.name for op in REGISTRY.values() if op.arity == 2)
TERNARY = frozenset(op.name for op in REGISTRY.values() if op.arity == 3)
COMPARISONS = frozenset(op.name for op in REGISTRY.values() if op.returns_bool)
ELEMENTWISE = frozenset(REGISTRY)
NOT_DIFFERENTIABLE = frozenset(op.name for op in REGISTRY.values() if not op.differentiable)

REDUCE_OPS = ("sum", "prod", "max", "min")
# the elementwise op that merges two partial results of a reduction
REDUCE_COMBINE: Mapping[str, str] = {"sum": "add", "prod": "mul", "max": "max", "min": "min"}


def reduce_identity(op: str, dtype: DType) -> bool | int | float:
    """The neutral element of reduction `op` over `dtype`: an empty reduction's value, and where
    an accumulator starts (a max at the lowest value, a min at the highest)."""
    if op == "sum":
        return 0
    if op == "prod":
        return 1
    lowest, highest = value_range(dtype)
    return lowest if op == "max" else highest

# 'detach' is the identity that autograd does not see through.
MOVEMENT = frozenset({"reshape", "permute", "expand", "pad", "shrink", "flip", "detach"})
# Leaves: 'buffer' holds device data, 'const' a scalar filled to a shape,
# 'iota' the index along one axis (arange and masks are built from it).
LEAVES = frozenset({"buffer", "const", "iota"})
# 'gather' reads its first source at an index held in the data of its second.
ALL_OPS = ELEMENTWISE | MOVEMENT | LEAVES | {"reduce", "gather"}


class OpTableError(RuntimeError):
    """A backend's table of elementwise ops disagrees with the registry."""


def check_op_table(owner: str, table: Iterable[str], expected: Iterable[str],
                   arity: Callable[[str], int | None] = lambda name: None) -> None:
    """Raise OpTableError unless `table` names exactly the ops in `expected`, each taking the
    registry's number of operands (`arity(name)` says how many the backend's entry takes, or
    None where it cannot tell)."""
    names, wanted = set(table), set(expected)
    problems = []
    if missing := sorted(wanted - names):
        problems.append(f"no rule for {', '.join(missing)}")
    if extra := sorted(names - wanted):
        problems.append(f"rules for ops the registry does not define or excludes: {', '.join(extra)}")
    for name in sorted(names & wanted):
        if (n := arity(name)) is not None and n != REGISTRY[name].arity:
            problems.append(f"'{name}' takes {n} operands, the registry says {REGISTRY[name].arity}")
    if problems:
        raise OpTableError(f"{owner}: " + "; ".join(problems))
