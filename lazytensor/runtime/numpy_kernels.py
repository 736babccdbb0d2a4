"""The helpers that rendered NumPy kernels call (their global namespace)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..codegen.render_numpy import op_name
from ..ir.semantics import ELEMENTWISE


def iota(size: int, axis: int, rank: int) -> np.ndarray:
    shape = [1] * rank
    shape[axis] = size
    return np.arange(size, dtype=np.int64).reshape(shape)


def strided(buf: np.ndarray, offset: int, dims: tuple, rank: int) -> np.ndarray:
    """A view of flat `buf`: axis a has size n and element stride k, for (a, n, k) in dims."""
    shape, strides = [1] * rank, [0] * rank
    for axis, size, step in dims:
        shape[axis] = size
        strides[axis] = step * buf.itemsize
    return as_strided(buf[offset:] if offset else buf, shape=shape, strides=strides, writeable=False)


def gather(buf: np.ndarray, index, valid) -> np.ndarray:
    index = np.asarray(index)
    if valid is True or (np.ndim(valid) == 0 and bool(valid)):
        return buf[index]
    safe = np.where(valid, index, 0)
    return np.where(valid, buf[safe], buf.dtype.type(0))


def cast(x, dtype) -> np.ndarray:
    return np.asarray(x).astype(dtype)


def _expand(x, axes, sizes):
    x = np.asarray(x)
    shape = list(x.shape)
    while len(shape) <= max(axes):
        shape.append(1)
    x = x.reshape(shape)
    for a, n in zip(axes, sizes):
        shape[a] = n
    return np.broadcast_to(x, shape)


def reduce_sum(x, axes, sizes):
    x = np.asarray(x)
    return _expand(x, axes, sizes).sum(axis=axes, keepdims=True, dtype=x.dtype)


def reduce_prod(x, axes, sizes):
    x = np.asarray(x)
    return _expand(x, axes, sizes).prod(axis=axes, keepdims=True, dtype=x.dtype)


def reduce_max(x, axes, sizes):
    return _expand(x, axes, sizes).max(axis=axes, keepdims=True)


def reduce_min(x, axes, sizes):
    return _expand(x, axes, sizes).min(axis=axes, keepdims=True)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def sum_product(a, b, axes, sizes, rank):
    """sum(a * b) over `axes` as one einsum (BLAS where it is a matrix product)."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b)
    a = a.reshape(a.shape + (1,) * (rank - a.ndim))
    b = b.reshape(b.shape + (1,) * (rank - b.ndim))
    full = [max(x, y) for x, y in zip(a.shape, b.shape)]
    for ax, n in zip(axes, sizes):
        full[ax] = n

    def operand(x):
        keep = [i for i in range(rank) if x.shape[i] != 1]
        return x.reshape([x.shape[i] for i in keep]), "".join(_LETTERS[i] for i in keep)

    (xa, sa), (xb, sb) = operand(a), operand(b)
    out_axes = [i for i in range(rank) if i not in axes and (i in map(_LETTERS.index, sa + sb))]
    out = np.einsum(f"{sa},{sb}->{''.join(_LETTERS[i] for i in out_axes)}", xa, xb, optimize=True)
    shape = [full[i] if i in out_axes else 1 for i in range(rank)]
    missing = [n for ax, n in zip(axes, sizes) if _LETTERS[ax] not in sa + sb]
    scale = int(np.prod(missing)) if missing else 1
    out = out.reshape(shape).astype(dtype, copy=False)
    return out * dtype.type(scale) if scale != 1 else out


def store(out: np.ndarray, value, shape) -> None:
    value = np.asarray(value)
    if value.ndim > len(shape):
        value = value.reshape(value.shape[:len(shape)])
    np.copyto(out.reshape(shape), np.broadcast_to(value, shape), casting="unsafe")


NAMESPACE = {
    "iota": iota, "strided": strided, "gather": gather, "cast": cast, "store": store,
    "reduce_sum": reduce_sum, "reduce_prod": reduce_prod, "reduce_max": reduce_max,
    "reduce_min": reduce_min, "sum_product": sum_product,
    **{op_name(op): fn for op, fn in ELEMENTWISE.items()},
    **{t.__name__: t for t in (np.float16, np.float32, np.float64, np.int32, np.int64,
                                np.uint8, np.uint32, np.bool_)},
}
