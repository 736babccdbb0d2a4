"""Host arrays kept for reuse by the collectives. A fresh large array costs a page fault per
page on its first write (measured here, in a VM: a 1 MB all_reduce took 4x mpi4py's time
with a new receive array per call, and the same time with a reused one)."""
from __future__ import annotations

import numpy as np

MIN_BYTES = 64 << 10  # smaller arrays come from malloc's free lists, already mapped
MAX_BYTES = 512 << 20  # what the pool may hold, in all


class HostPool:
    """Free arrays by (dtype, size); `take` reuses one or allocates, `give` returns one."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes, self.held = max_bytes, 0
        self._free: dict[tuple[str, int], list[np.ndarray]] = {}

    def take(self, dtype: np.dtype, size: int) -> np.ndarray:
        free = self._free.get((np.dtype(dtype).str, size))
        if free:
            out = free.pop()
            self.held -= out.nbytes
            return out
        return np.empty(size, dtype=dtype)

    def give(self, array: np.ndarray) -> None:
        if array.nbytes < MIN_BYTES or self.held + array.nbytes > self.max_bytes:
            return  # let it go: cheap to remake, or the pool is full
        self._free.setdefault((array.dtype.str, array.size), []).append(array)
        self.held += array.nbytes

    def clear(self) -> None:
        self._free.clear()
        self.held = 0


POOL = HostPool()
