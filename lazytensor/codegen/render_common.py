"""What both renderers need from a lowered kernel: order, names, loop structure."""
from __future__ import annotations

from ..ir.traverse import postorder
from .lower import LoweredKernel
from .uops import U


def toposort(roots: list[U]) -> list[U]:
    """Sources before users."""
    return postorder(roots, lambda n: n.srcs)


def var_dependencies(order: list[U], known: dict[int, frozenset] | None = None) -> dict[int, frozenset]:
    """For each node (sources before users), the loop variables it depends on; a reduce hides
    its own. `known` holds nodes already done and is extended in place."""
    deps: dict[int, frozenset] = {} if known is None else known
    for n in order:
        if id(n) in deps:
            continue
        if n.op == "var":
            deps[id(n)] = frozenset([n])
        elif n.op == "reduce":
            deps[id(n)] = deps[id(n.srcs[0])] - frozenset(n.arg[1])
        elif n.op == "greduce":  # the same value in every work-item of the group
            deps[id(n)] = deps[id(n.srcs[0])] - {n.arg[1]}
        else:
            deps[id(n)] = frozenset().union(*(deps[id(s)] for s in n.srcs)) if n.srcs else frozenset()
    return deps


def kernel_name(kernel: LoweredKernel) -> str:
    """A readable, deterministic name: kind, main ops, output shape."""
    order = toposort(kernel.values)
    reduces = [n.arg[0] for n in order if n.op == "reduce"]
    skip = {"var", "lit", "arg", "load", "cast", "add", "mul", "idiv", "mod", "and", "lt", "where", "reduce"}
    ops: list[str] = []
    for n in order:
        if n.op not in skip and n.op not in ops:
            ops.append(n.op)
    kind = ("r" if reduces else "e") + (str(kernel.n_out) if kernel.n_out > 1 else "")
    parts = [kind] + reduces[:2] + ops[:3] + ["x".join(str(s) for s in kernel.out_shape) or "scalar"]
    return "_".join(parts)
