"""Tensors that share memory with a NumPy array, as PyTorch's `from_numpy` tensors do.

The numpy device keeps its buffers as NumPy arrays, so a tensor made by `from_numpy` there
holds the caller's array itself: writes to the array are seen by the tensor, and `.numpy()`
returns the array. Lazy evaluation needs two rules more to keep PyTorch's semantics for
writes the other way:
- an in-place op on such a tensor runs at once and writes its result into the array, so the
  array shows it when the op returns; and
- a value that read the array's old contents (an earlier reading of the tensor still held
  elsewhere) gets a copy of them first, so it does not change under the write.
Other devices hold their buffers elsewhere (an OpenCL device's memory), so there
`from_numpy` copies, and so does `.numpy()` of any tensor not made by `from_numpy`.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import capture
from .ir import dtype as D
from .ir.layout import contiguous_strides
from .ir.node import Node, buffer_node
from .runtime import engine
from .runtime.buffer import Buffer, BufferView
from .runtime.devices import get_device


def can_share(array: np.ndarray, device: str) -> bool:
    """Whether a tensor on `device` can be `array`'s memory: the numpy device, a dtype
    lazytensor stores as it is, a writable array with element-aligned strides."""
    itemsize = array.dtype.itemsize
    return (device == "numpy" and np.dtype(array.dtype) in D.BY_NUMPY and array.flags.writeable
            and all(s >= 0 and s % itemsize == 0 for s in array.strides))


def sharing_node(array: np.ndarray, device: str) -> Node:
    """A leaf node whose buffer is `array`'s memory (can_share must hold)."""
    itemsize = array.dtype.itemsize
    strides = tuple(s // itemsize for s in array.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(array.shape, strides)) if array.size else 0
    flat = as_strided(array, (span,), (itemsize,))  # the memory from the first element to the last
    dtype = D.BY_NUMPY[np.dtype(array.dtype)]
    buf = Buffer.over(get_device(device), dtype, flat)
    return buffer_node(BufferView(buf, array.shape, strides), dtype, array.shape, device)


def shared_reading(node: Node) -> tuple[Node, BufferView] | None:
    """(the node holding it, the view) of the caller's memory that `node` is, if it is such
    memory (seen through the detach a leaf's content gets)."""
    while node.buffer is None and node.op == "detach":
        node = node.srcs[0]
    view = node.buffer
    return (node, view) if view is not None and view.buffer.host_array is not None else None


def host_array(view: BufferView) -> np.ndarray:
    """The caller's array, as the view sees it (no copy)."""
    raw = view.buffer.raw
    item = raw.itemsize
    return as_strided(raw[view.offset:], view.shape, tuple(s * item for s in view.strides))


def write_through(new: Node, reading: tuple[Node, BufferView]) -> Node:
    """Compute `new` (an in-place result over the caller's memory `reading`) and write it
    there; what read the old contents gets a copy of them. A node over the memory, now
    holding `new`'s values."""
    holder, view = reading
    capture.unreplayable("it writes in place into a from_numpy tensor, whose array a replay would not update")
    engine.realize([new], new.device)
    memory = host_array(view)
    values = get_device(new.device).copyout(new.buffer)
    if new is not holder:
        holder.buffer = _copy_aside(view, memory)
    memory[...] = values
    return buffer_node(view, new.dtype, new.shape, new.device)


def _copy_aside(view: BufferView, memory: np.ndarray) -> BufferView:
    buf = Buffer(view.buffer.device, view.buffer.dtype, memory.size)
    buf.raw[...] = memory.reshape(-1)
    return BufferView(buf, view.shape, contiguous_strides(view.shape))
