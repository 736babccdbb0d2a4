"""lt.accelerator, as torch.accelerator on a machine without CUDA, MPS or XPU: no accelerator
is there for scripts that ask (lazytensor's own GPU path is the OpenCL device "cl")."""
from __future__ import annotations


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False):
    """None: no CUDA, MPS or XPU device (scripts then take their CPU branch)."""
    return None


def device_count() -> int:
    return 0


def synchronize(device=None) -> None:
    """Nothing to wait for: there is no accelerator."""
