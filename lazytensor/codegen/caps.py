"""What a device declares about itself; the heuristic reads only this."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceCaps:
    """Device limits as fields, so that every optimisation choice can be checked against them."""

    is_cpu: bool = True
    compute_units: int = 1
    max_work_group_size: int = 256
    max_work_item_sizes: tuple[int, int, int] = (256, 256, 256)
    local_memory_bytes: int = 32768
    preferred_vector_width: int = 16  # float lanes the code generator should use
    fp64: bool = False

    @property
    def vector_widths(self) -> tuple[int, ...]:
        """Widths an UPCAST may take (OpenCL vector types), widest first."""
        return tuple(w for w in (16, 8, 4, 2) if w <= self.preferred_vector_width)


CPU_DEFAULT = DeviceCaps()
