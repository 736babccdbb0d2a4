"""The NumPy device: kernels rendered as vectorised NumPy, run in-process."""
from __future__ import annotations

import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..codegen import render_numpy
from ..ir.dtype import DType
from .buffer import BufferView
from .device import Device
from .numpy_kernels import NAMESPACE
from .stats import STATS


class NumpyDevice(Device):
    name = "numpy"
    renderer = render_numpy
    # A row reduction fuses into the kernel that broadcasts it back (softmax, layernorm): the
    # renderer then runs both in the same cache-sized blocks and computes shared work once.
    fuse_row_reductions = True

    def __init__(self):
        self.programs: dict[str, object] = {}

    def alloc(self, dtype: DType, size: int) -> np.ndarray:
        STATS.buffers_created += 1  # NumPy's allocator is the pool here
        return np.empty(size, dtype=dtype.np)

    def copyin(self, raw: np.ndarray, array: np.ndarray) -> None:
        raw[...] = np.ascontiguousarray(array).reshape(-1)

    def copyout(self, view: BufferView) -> np.ndarray:
        raw = view.buffer.raw
        item = raw.itemsize
        base = raw[view.offset:] if view.offset else raw
        return as_strided(base, view.shape, tuple(s * item for s in view.strides)).copy()

    def has_built(self, name: str, source: str) -> bool:
        return source in self.programs

    def compile(self, sources: dict[str, str]) -> dict[str, object]:
        out = {}
        for name, src in sources.items():
            if src in self.programs:
                STATS.cache_hits += 1
            else:
                start = time.perf_counter()
                namespace = dict(NAMESPACE)
                exec(compile(src, f"<lazytensor kernel {name}>", "exec"), namespace)
                self.programs[src] = namespace[name]
                STATS.kernels_compiled += 1
                STATS.compile_time_s += time.perf_counter() - start
            out[name] = self.programs[src]
        return out

    def launch(self, runnable, outs, inputs, args, kernel):
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            runnable(outs + inputs, [d.np(v) for v, d in args])
        return time.perf_counter() - start
