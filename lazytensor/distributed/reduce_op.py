"""ReduceOp, as PyTorch's, and the MPI operation each one is for a dtype."""
from __future__ import annotations

import enum

from ..ir import dtype as D


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


# bool has no arithmetic in MPI: its sums are "any", products and minima "all" (PyTorch's too)
_BOOL = {ReduceOp.SUM: "LOR", ReduceOp.MAX: "LOR", ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND"}
_NUMBER = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
           ReduceOp.MAX: "MAX"}
# MPI has no bfloat16 and sums float16 in float16: both are reduced as float32, then cast back
WIDENED = {D.float16: D.float32, D.bfloat16: D.float32}


def as_reduce_op(op, name: str) -> ReduceOp:
    """`op` as a ReduceOp (also accepted: its name as a string, as "sum")."""
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ReduceOp.__members__:
        return ReduceOp[op.upper()]
    raise ValueError(f"{name}: op must be a lt.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), got {op!r}")


def mpi_op(MPI, op: ReduceOp, dtype: D.DType, name: str):
    """The MPI.Op computing `op` on host data of `dtype` (AVG: a SUM, divided afterwards)."""
    if dtype == D.bool_:
        if op not in _BOOL:
            raise ValueError(f"{name}: ReduceOp.{op.name} is not defined for bool tensors")
        return getattr(MPI, _BOOL[op])
    if op == ReduceOp.AVG and not dtype.is_floating_point:
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype.name}")
    return getattr(MPI, _NUMBER[op])
