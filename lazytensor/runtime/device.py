"""What every device provides to the engine."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..codegen.lower import LoweredKernel
from ..codegen.program import RenderedKernel, RenderedProgram, single_kernel
from ..ir.dtype import DType
from .buffer import BufferView


class Device:
    name: str
    joins_kernels: bool = False  # may independent kernels share one launch (codegen/horizontal.py)?

    def supports(self, dtype: DType) -> bool:
        return True

    def alloc(self, dtype: DType, size: int) -> Any:
        raise NotImplementedError

    def free(self, raw: Any, dtype: DType, size: int) -> None:
        """Give memory back (devices may pool it)."""

    def copyin(self, raw: Any, array: np.ndarray) -> None:
        raise NotImplementedError

    def copyout(self, view: BufferView) -> np.ndarray:
        """The view's elements as a new NumPy array."""
        raise NotImplementedError

    renderer = None  # a codegen module with render(kernel, name=None) -> (name, source)

    def render(self, kernel: LoweredKernel, name: str, key: tuple | None = None, resized: bool = False) -> RenderedProgram:
        """The kernels that compute a lowered kernel, in this device's language (`key`: its
        signature, for a device that remembers per-kernel choices; `resized`: its realisation
        repeats an earlier one at other sizes, for a device whose programs take sizes as arguments)."""
        name, source = self.renderer.render(kernel, name)
        return single_kernel(name, source, kernel)

    def share(self, programs: list[RenderedProgram]) -> list[RenderedProgram]:
        """One realisation's new programs, where kernels of one code may share one compiled
        program (a device whose kernels take sizes as arguments: codegen/hoist.py)."""
        return programs

    def compile(self, sources: dict[str, str]) -> dict[str, Any]:
        """Build kernels named in `sources`; returns name -> runnable (cached by source)."""
        raise NotImplementedError

    def has_built(self, name: str, source: str) -> bool:
        """Is a kernel of this source (named `name` in it) built already, in this process?"""
        raise NotImplementedError

    def launch(self, runnable: Any, outs: list[Any], inputs: list[Any], args: list, kernel: RenderedKernel) -> Any:
        """Start a kernel; returns a handle that `elapsed` can time."""
        raise NotImplementedError

    def elapsed(self, handle: Any) -> float:
        """Seconds the launched kernel took (waits for it)."""
        return float(handle)

    def after_batch(self) -> None:
        """Called once the kernels of one realisation are queued."""

    def synchronize(self) -> None:
        """Wait for queued work."""

    def __str__(self) -> str:
        return self.name
