"""The helpers that rendered NumPy kernels call (their global namespace).

Elementwise ops are the ufuncs of ir/semantics.py themselves (rendered code
passes them out=); these helpers cover what is not one ufunc call.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..codegen.render_numpy import op_name
from ..ir.semantics import ELEMENTWISE
from ..ir.dtype import ALL as ALL_DTYPES, bfloat16, from_storage, to_storage


def iota(start: int, stop: int, axis: int, rank: int) -> np.ndarray:
    """Indices start..stop-1 along `axis` of a rank-`rank` broadcast space."""
    shape = [1] * rank
    shape[axis] = stop - start
    return np.arange(start, stop, dtype=np.int64).reshape(shape)


def strided(buf: np.ndarray, offset: int, dims: tuple, rank: int) -> np.ndarray:
    """A view of flat `buf`: axis a has size n and element stride k, for (a, n, k) in dims."""
    shape, strides = [1] * rank, [0] * rank
    for axis, size, step in dims:
        shape[axis] = size
        strides[axis] = step * buf.itemsize
    return as_strided(buf[offset:] if offset else buf, shape=shape, strides=strides, writeable=False)


def padded_strided(buf: np.ndarray, offset: int, dims: tuple, rank: int, lo: int, hi: int) -> np.ndarray:
    """A strided view of `buf` whose index spans [lo, hi]: where it leaves the buffer (a
    padded border, a window past the edge) it reads zero margins."""
    before, after = max(0, -lo), max(0, hi + 1 - buf.size)
    if before or after:
        buf = np.concatenate([np.zeros(before, buf.dtype), buf, np.zeros(after, buf.dtype)])
    return strided(buf, offset + before, dims, rank)


def masked_strided(buf: np.ndarray, offset: int, dims: tuple, rank: int, valid, lo: int, hi: int) -> np.ndarray:
    """An affine load that reads 0 where `valid` does not hold."""
    return np.where(valid, padded_strided(buf, offset, dims, rank, lo, hi), buf.dtype.type(0))


def gather(buf: np.ndarray, index, valid) -> np.ndarray:
    index = np.asarray(index)
    if valid is True or (np.ndim(valid) == 0 and bool(valid)):
        return buf[index]
    if buf.size == 0:  # nothing to read: every index is out of bounds, so every lane reads 0
        return np.zeros(np.broadcast(index, valid).shape, buf.dtype)
    safe = np.where(valid, index, 0)
    return np.where(valid, buf[safe], buf.dtype.type(0))


def cast(x, dtype, out=None) -> np.ndarray:
    """x converted to dtype; into `out` when given (the same conversion as astype)."""
    if out is None:
        return np.asarray(x).astype(dtype)
    np.copyto(out, x, casting="unsafe")
    return out


_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def where_into(cond, a, b, out):
    """np.where(cond, a, b) written into `out` (a, b and out of one dtype; out is none of
    the inputs) by selecting bits, b ^ ((a ^ b) & mask): the same bits np.where gives, but
    branch-free, where np.where costs ~3 ns an element on a random mask (relu's)."""
    word = _SIGNED[out.itemsize]
    mask = np.negative(np.asarray(cond).view(np.int8), dtype=word, casting="unsafe")  # 0 or ~0
    bits, b_bits = out.view(word), np.asarray(b).view(word)
    np.bitwise_xor(np.asarray(a).view(word), b_bits, out=bits)
    np.bitwise_and(bits, mask, out=bits)
    np.bitwise_xor(bits, b_bits, out=bits)
    return out


def _blas_ready(x: np.ndarray) -> np.ndarray:
    """x, or a contiguous copy if its matrices lack a unit stride: np.matmul hands a stack
    of matrices to BLAS only when each has one (else it runs a slow loop of its own)."""
    (s0, s1), (d0, d1), item = x.strides[-2:], x.shape[-2:], x.itemsize
    if (s1 == item and s0 >= d1 * item) or (s0 == item and s1 >= d0 * item):
        return x
    return np.ascontiguousarray(x)


def _as_shape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A view of x with `shape` (raises rather than copying: results must land in x)."""
    view = x.view()
    view.shape = shape
    return view


def matmul(left, right, left_order, right_order, bmkn, res_shape, to_layout, out=None):
    """sum over k of left * right as (B, M, K) @ (B, K, N) through np.matmul (BLAS).
    The orders list left's axes as batch, m, k, rest and right's as batch, k, n, rest (rest
    of size 1); the (B, M, N) result goes back to the broadcast space as res_shape
    transposed by to_layout, or into `out` when its layout already matches."""
    b, m, k, n = bmkn
    a3 = _blas_ready(np.transpose(left, left_order).reshape(b, m, k))
    b3 = _blas_ready(np.transpose(right, right_order).reshape(b, k, n))
    if out is not None:
        np.matmul(a3, b3, out=_as_shape(out, (b, m, n)))
        return out
    return np.matmul(a3, b3).reshape(res_shape).transpose(to_layout)


def store(out: np.ndarray, value) -> None:
    """Store a value that was not computed in place: broadcast, cast to the output type."""
    np.copyto(out, value, casting="unsafe")


def bfloat16_values(bits: np.ndarray) -> np.ndarray:
    return from_storage(bits, bfloat16)


def store_bfloat16(out: np.ndarray, value) -> None:
    """Store float32 values as bfloat16 bits, rounding to nearest even."""
    np.copyto(out, to_storage(np.broadcast_to(value, out.shape), bfloat16))


NAMESPACE = {
    "np": np, "empty": np.empty, "broadcast_to": np.broadcast_to,
    "iota": iota, "strided": strided, "masked_strided": masked_strided, "padded_strided": padded_strided, "gather": gather, "cast": cast, "where_into": where_into,
    "matmul": matmul, "store": store, "bfloat16_values": bfloat16_values, "store_bfloat16": store_bfloat16,
    **{op_name(op): fn for op, fn in ELEMENTWISE.items()},
    **{d.np.__name__: d.np for d in ALL_DTYPES},  # the scalar types literals are written in
}
