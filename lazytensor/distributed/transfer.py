"""Moving tensor values to and from the host memory MPI reads and writes, with as few copies
as the device allows: on the numpy device MPI reads a contiguous tensor's own buffer and
writes straight into the new buffer of the result; an OpenCL tensor costs one read to the
host and one write back."""
from __future__ import annotations

import math
import weakref

import numpy as np

from .. import checks
from ..autodiff.grad_mode import no_grad
from ..ir.dtype import DType
from ..ir.layout import contiguous_strides
from ..ir.node import buffer_node
from ..runtime.buffer import Buffer, BufferView
from ..runtime.devices import get_device
from ..runtime.numpy_device import NumpyDevice
from ..runtime.stats import STATS
from ..tensor_base import TensorBase, wrap
from .host_pool import POOL


def host_value(t: TensorBase) -> np.ndarray:
    """`t`'s value as a C-contiguous host array, for MPI to read (never write: on the numpy
    device it may be the tensor's own buffer)."""
    value = t._realized_value()  # realises the storage and the view `t` reads (one schedule)
    checks.raise_if_any()
    view, dev = value.buffer, get_device(value.device)
    if isinstance(dev, NumpyDevice) and view.strides == contiguous_strides(view.shape):
        numel = math.prod(view.shape)
        return view.buffer.raw[view.offset:view.offset + numel].reshape(view.shape)
    return dev.copyout(view)  # a new contiguous array


class Landing:
    """Host memory MPI writes a result into, and the tensor it becomes: on the numpy device
    the memory is the new tensor's buffer (no copy; it goes back to the pool when the
    buffer dies), elsewhere it is copied in once and goes back at once."""

    def __init__(self, dtype: DType, shape: tuple[int, ...], device: str):
        self.dtype, self.shape, self.device = dtype, tuple(shape), str(device)
        self._dev = get_device(self.device)
        self._flat = POOL.take(dtype.np, math.prod(self.shape))
        self.array = self._flat.reshape(self.shape)
        self._buffer = None
        if isinstance(self._dev, NumpyDevice):
            self._buffer = Buffer(self._dev, dtype, self._flat.size)  # its own array is never touched
            self._buffer.raw = self._flat
            weakref.finalize(self._buffer, POOL.give, self._flat)
            STATS.bytes_allocated += self._buffer.nbytes

    def tensor(self) -> TensorBase:
        """The received values as a tensor on the device (a leaf with no history)."""
        buf = self._buffer
        if buf is None:
            buf = Buffer(self._dev, self.dtype, self._flat.size)
            STATS.bytes_allocated += buf.nbytes
            self._dev.copyin(buf.raw, self._flat)
            POOL.give(self._flat)  # copyin has finished with it
        view = BufferView(buf, self.shape, contiguous_strides(self.shape))
        return wrap(buffer_node(view, self.dtype, self.shape, self.device))


def write_into(t: TensorBase, value: TensorBase) -> None:
    """`t.copy_(value)` as a collective writes: in place (every view of t sees it), lazily
    (a cast or division in `value` fuses into t's readers), outside autograd, and a leaf
    that required grad (a parameter) still does after."""
    leaf = t.requires_grad and t.is_leaf
    with no_grad():
        t.copy_(value)
    if leaf and not t.requires_grad:
        t.requires_grad = True
