"""Element types and PyTorch's type-promotion rules."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """An element type: its name, NumPy equivalent and category. What a backend calls it is
    the backend's (the OpenCL renderer's table of C types, say).

    Each dtype exists once (unpickling and copying return the same object), so equality and
    hashing are identity's: every node built hashes and compares its dtype."""

    name: str
    np: type
    category: int  # 0 bool, 1 integer, 2 floating: promotion climbs categories
    rank: int  # order within a category for promotion

    def __reduce__(self):
        return (_by_name, (self.name,))

    @property
    def itemsize(self) -> int:
        return np.dtype(self.np).itemsize

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    @property
    def is_signed(self) -> bool:
        return self.name not in ("bool", "uint8", "uint32")

    def __repr__(self) -> str:
        return f"lazytensor.{self.name}"


bool_ = DType("bool", np.bool_, 0, 0)
uint8 = DType("uint8", np.uint8, 1, 0)
int32 = DType("int32", np.int32, 1, 2)
uint32 = DType("uint32", np.uint32, 1, 1)  # internal: random bit generation
int64 = DType("int64", np.int64, 1, 3)
float16 = DType("float16", np.float16, 2, 0)
float32 = DType("float32", np.float32, 2, 1)
float64 = DType("float64", np.float64, 2, 2)

ALL = (bool_, uint8, int32, uint32, int64, float16, float32, float64)
BY_NAME = {d.name: d for d in ALL}


def _by_name(name: str) -> DType:
    return BY_NAME[name]

BY_NUMPY = {np.dtype(d.np): d for d in ALL}
ALIASES = {"float": float32, "half": float16, "double": float64, "int": int32, "long": int64}


def value_range(dtype: DType) -> tuple[bool | int | float, bool | int | float]:
    """The lowest and highest values of `dtype` (a floating type's are the infinities)."""
    if dtype.is_floating_point:
        return -math.inf, math.inf
    if dtype == bool_:
        return False, True
    info = np.iinfo(dtype.np)
    return int(info.min), int(info.max)


def from_numpy(npdtype) -> DType:
    """The DType for a NumPy dtype; raises TypeError for unsupported ones."""
    dt = np.dtype(npdtype)
    if dt in BY_NUMPY:
        return BY_NUMPY[dt]
    if dt.kind == "i" and dt.itemsize < 4:
        return int32
    if dt.kind == "u":
        return int64
    raise TypeError(f"lazytensor: unsupported NumPy dtype {dt}")


def to_dtype(d) -> DType:
    """Accept a DType, a name ('float32'), a NumPy dtype or a Python type."""
    if isinstance(d, DType):
        return d
    if d is bool:
        return bool_
    if d is int:
        return int64
    if d is float:
        return float32
    if isinstance(d, str):
        key = d.replace("torch.", "").replace("lazytensor.", "")
        if key in BY_NAME:
            return BY_NAME[key]
        if key in ALIASES:
            return ALIASES[key]
        raise TypeError(f"lazytensor: unknown dtype {d!r}")
    return from_numpy(d)


def _promote_pair(a: DType, b: DType) -> DType:
    if a == b:
        return a
    return max(a, b, key=lambda d: (d.category, d.rank))


def promote(*dtypes: DType) -> DType:
    out = dtypes[0]
    for d in dtypes[1:]:
        out = _promote_pair(out, d)
    return out


# PyTorch promotes in three priority classes: tensors with dims, 0-d tensors, Python scalars.
# A lower class only decides the result when it brings a higher category.
DIM, ZERO_DIM, SCALAR = 0, 1, 2


def result_type(operands: list[tuple[DType, int]], default_float: DType = float32) -> DType:
    """PyTorch's result_type over (dtype, priority class) pairs."""
    best: DType | None = None
    for cls in (DIM, ZERO_DIM, SCALAR):
        members = [d for d, c in operands if c == cls]
        if not members:
            continue
        here = promote(*members)
        if cls == SCALAR:  # a Python scalar stands for its category's default type
            here = (bool_, int64, default_float)[here.category]
        if best is None or here.category > best.category:
            best = here
    assert best is not None, "result_type needs at least one operand"
    return best


def scalar_dtype(value) -> DType:
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return float32


def compute_dtype(dtype: DType) -> DType:
    """Kernels compute half precision in float32; only loads and stores see float16."""
    return float32 if dtype == float16 else dtype
