"""Device memory as the IR sees it: a flat buffer and a strided view of it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir.dtype import DType
from ..ir.layout import contiguous_strides


class Buffer:
    """Flat storage of `size` elements of `dtype` on one device."""

    def __init__(self, device, dtype: DType, size: int):
        self.device, self.dtype, self.size = device, dtype, size
        self.raw = device.alloc(dtype, size)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __del__(self):
        raw = getattr(self, "raw", None)
        if raw is not None:
            self.device.free(raw, self.dtype, self.size)


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
