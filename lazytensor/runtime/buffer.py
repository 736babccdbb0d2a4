"""Device memory as the IR sees it: a flat buffer and a strided view of it."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from ..ir.dtype import DType
from ..ir.layout import contiguous_strides


_SERIALS = itertools.count()


class Buffer:
    """Flat storage of `size` elements of `dtype` on one device; `serial` orders buffers by
    when they were made."""

    host_array = None  # the caller's NumPy array this buffer is (lt.from_numpy), if any

    def __init__(self, device, dtype: DType, size: int):
        self.device, self.dtype, self.size = device, dtype, size
        self.serial = next(_SERIALS)
        self.raw = device.alloc(dtype, size)

    @classmethod
    def over(cls, device, dtype: DType, raw) -> "Buffer":
        """A buffer that is memory the caller owns (a flat NumPy array on the numpy device)."""
        buf = cls.__new__(cls)
        buf.device, buf.dtype, buf.size = device, dtype, raw.size
        buf.serial, buf.raw, buf.host_array = next(_SERIALS), raw, raw
        return buf

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __del__(self):
        raw = getattr(self, "raw", None)
        if raw is not None and self.host_array is None:  # the caller's memory is never pooled
            self.device.free(raw, self.dtype, self.size)


def next_serial() -> int:
    """The serial the next buffer made will have."""
    global _SERIALS
    upcoming = next(_SERIALS)
    _SERIALS = itertools.count(upcoming)
    return upcoming


@dataclass(frozen=True)
class BufferView:
    """How a realised node reads its buffer: element strides and offset."""

    buffer: Buffer
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0

    @property
    def contiguous(self) -> bool:
        return self.offset == 0 and self.strides == contiguous_strides(self.shape) \
            and self.buffer.size == math.prod(self.shape)
