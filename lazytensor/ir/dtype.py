"""Element types and PyTorch's type-promotion rules."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .bounded import remember


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
    # fields, not properties: recording an op asks is_floating_point several times, and
    # realising asks itemsize per buffer (NumPy's dtype of the type was built at each ask)
    is_floating_point: bool = field(init=False)
    itemsize: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "is_floating_point", self.category == 2)
        object.__setattr__(self, "itemsize", np.dtype(self.np).itemsize)

    def __reduce__(self):
        return (_by_name, (self.name,))

    @property
    def is_signed(self) -> bool:
        return self.name not in ("bool", "uint8", "uint32")

    def __repr__(self) -> str:
        return f"lazytensor.{self.name}"


bool_ = DType("bool", np.bool_, 0, 0)
# uint8 and int8 share a rank: neither holds the other, so together they promote to int16
uint8 = DType("uint8", np.uint8, 1, 0)
int8 = DType("int8", np.int8, 1, 0)
int16 = DType("int16", np.int16, 1, 1)
uint32 = DType("uint32", np.uint32, 1, 2)  # internal: random bit generation
int32 = DType("int32", np.int32, 1, 3)
int64 = DType("int64", np.int64, 1, 4)
float16 = DType("float16", np.float16, 2, 0)
# NumPy has no bfloat16: its buffers hold the top 16 bits of each float32 (see `to_storage`)
bfloat16 = DType("bfloat16", np.uint16, 2, 0)
float32 = DType("float32", np.float32, 2, 1)
float64 = DType("float64", np.float64, 2, 2)

ALL = (bool_, uint8, int8, int16, int32, uint32, int64, float16, bfloat16, float32, float64)
BY_NAME = {d.name: d for d in ALL}
# the NumPy type a dtype's values have on the host, where it differs from its storage type
HOST_TYPES = {bfloat16: np.float32}


def _by_name(name: str) -> DType:
    return BY_NAME[name]

BY_NUMPY = {np.dtype(d.np): d for d in ALL if d not in HOST_TYPES}
ALIASES = {"float": float32, "half": float16, "double": float64, "short": int16, "int": int32, "long": int64}
# PyTorch's legacy tensor type names (FloatTensor, ...): Tensor.type() answers with them
LEGACY_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor", bfloat16: "BFloat16Tensor",
                int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor", bool_: "BoolTensor",
                uint8: "ByteTensor"}
BY_LEGACY_NAME = {name: d for d, name in LEGACY_NAMES.items()}


def host_type(dtype: DType) -> type:
    """The NumPy type of `dtype`'s values as users see them (float32 for bfloat16)."""
    return HOST_TYPES.get(dtype, dtype.np)


def _bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, rounding to nearest even as PyTorch does; NaN stays NaN."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + (0x7FFF + ((bits >> 16) & 1))) >> 16
    nan = (bits & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, (bits >> 16) | 0x40, rounded).astype(np.uint16)


def _bfloat16_values(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# dtype -> (host values -> storage, storage -> host values), for dtypes NumPy cannot hold
CODECS = {bfloat16: (_bfloat16_bits, _bfloat16_values)}


def to_storage(values, dtype: DType) -> np.ndarray:
    """Host values as `dtype`'s buffer contents (rounded, for a narrow type)."""
    array = np.asarray(values, dtype=host_type(dtype))
    return CODECS[dtype][0](array).reshape(array.shape) if dtype in CODECS else array


def from_storage(array: np.ndarray, dtype: DType) -> np.ndarray:
    """A buffer's contents as host values."""
    return CODECS[dtype][1](array).reshape(array.shape) if dtype in CODECS else array


def round_to(value, dtype: DType):
    """A Python scalar as the nearest value a 16-bit float `dtype` holds (what storing it
    would keep); other dtypes' kernels take the scalar in that dtype already."""
    return from_storage(to_storage(value, dtype), dtype).item() if dtype in NARROW_FLOATS else value


def value_range(dtype: DType) -> tuple[bool | int | float, bool | int | float]:
    """The lowest and highest values of `dtype` (a floating type's are the infinities)."""
    if dtype.is_floating_point:
        return -math.inf, math.inf
    if dtype == bool_:
        return False, True
    info = np.iinfo(dtype.np)
    return int(info.min), int(info.max)


# Integer dtypes narrower than a Python int's int64: a scalar outside the range wraps into it,
# as PyTorch converts a scalar operand (int8's x + 300 adds 44, x == 300 asks x == 44)
_WRAPPED_RANGES = {d: value_range(d) for d in (uint8, int8, int16, uint32, int32)}


def wrap_integer(value: int, dtype: DType) -> int:
    """`value` as `dtype` holds it: taken modulo 2**bits into its range where it is outside."""
    bounds = _WRAPPED_RANGES.get(dtype)
    if bounds is None or bounds[0] <= value <= bounds[1]:
        return value
    low, high = bounds
    return (value - low) % (high - low + 1) + low


def holds(value, dtype: DType) -> bool:
    """Whether an integer `dtype` holds the Python scalar `value` as it is (a float's fraction cut
    off): what PyTorch checks of a value written into a tensor (fill_, full, masked_fill, where,
    clamp's bounds), where an operand of arithmetic wraps instead."""
    if dtype.category != 1 or isinstance(value, (bool, np.bool_)) or \
            not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        return True
    low, high = value_range(dtype)
    return low <= math.trunc(value) <= high


def from_numpy(npdtype) -> DType:
    """The DType for a NumPy dtype; raises TypeError for unsupported ones."""
    dt = np.dtype(npdtype)
    if dt in BY_NUMPY:
        return BY_NUMPY[dt]
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
    if isinstance(getattr(d, "dtype", None), DType):  # a legacy class: FloatTensor
        return d.dtype
    if isinstance(d, str):
        key = d.replace("torch.", "").replace("lazytensor.", "")
        if key in BY_NAME:
            return BY_NAME[key]
        if key in ALIASES:
            return ALIASES[key]
        if key in BY_LEGACY_NAME:
            return BY_LEGACY_NAME[key]
        raise TypeError(f"lazytensor: unknown dtype {d!r}")
    return from_numpy(d)


# Two dtypes of one rank where neither holds the other's values: the narrowest that holds both
_TIES = {frozenset((float16, bfloat16)): float32, frozenset((uint8, int8)): int16}


def _promote_pair(a: DType, b: DType) -> DType:
    if a == b:
        return a
    if a.category == b.category and a.rank == b.rank:
        return _TIES[frozenset((a, b))]
    return max(a, b, key=lambda d: (d.category, d.rank))


def promote(*dtypes: DType) -> DType:
    out = dtypes[0]
    for d in dtypes[1:]:
        out = _promote_pair(out, d)
    return out


# PyTorch promotes in three priority classes: tensors with dims, 0-d tensors, Python scalars.
# A lower class only decides the result when it brings a higher category.
DIM, ZERO_DIM, SCALAR = 0, 1, 2


# (operand pairs, default float) -> result: asked by every op that promotes, over a handful of
# distinct pairs in a program (a table lookup is a tenth of working it out again)
_RESULT_TYPES: dict[tuple, DType] = {}
_RESULT_TYPES_KEPT = 4096


def result_type(operands: list[tuple[DType, int]] | tuple[tuple[DType, int], ...],
                default_float: DType = float32) -> DType:
    """PyTorch's result_type over (dtype, priority class) pairs."""
    key = (tuple(operands), default_float)
    found = _RESULT_TYPES.get(key)
    if found is None:
        found = remember(_RESULT_TYPES, key, _result_type(operands, default_float), _RESULT_TYPES_KEPT)
    return found


def _result_type(operands, default_float: DType) -> DType:
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


_PYTHON_SCALAR_DTYPES = {bool: bool_, int: int64, float: float32}


def scalar_dtype(value) -> DType:
    exact = _PYTHON_SCALAR_DTYPES.get(type(value))  # the common case, before the NumPy scalars
    if exact is not None:
        return exact
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return float32


NARROW_FLOATS = (float16, bfloat16)


def compute_dtype(dtype: DType) -> DType:
    """Kernels compute 16-bit floats in float32; only loads and stores see float16 or bfloat16."""
    return float32 if dtype in NARROW_FLOATS else dtype
