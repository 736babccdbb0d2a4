"""Device names, the registry of opened devices, and the default device."""
from __future__ import annotations

import os
import warnings
from functools import lru_cache

from .device import Device
from .numpy_device import NumpyDevice

_default: str | None = None


def canonical_name(name) -> str:
    """'cl', 'cl:1', 'numpy' (also 'cpu' for numpy, 'cl:0' for cl); raises on anything else."""
    name = str(name).strip().lower()
    if name in ("numpy", "cpu"):
        return "numpy"
    if name in ("cl", "cl:0", "opencl"):
        return "cl"
    if name.startswith("cl:") and name[3:].isdigit():
        return name
    raise RuntimeError(f"unknown device {name!r}: expected 'cl', 'cl:N' (OpenCL) or 'numpy'")


@lru_cache(maxsize=None)
def get_device(name: str) -> Device:
    name = canonical_name(name)
    if name == "numpy":
        return NumpyDevice()
    from .opencl import OpenCLDevice, opencl_devices
    if not opencl_devices():
        raise RuntimeError(f"device {name!r} needs OpenCL, but no OpenCL platform was found "
                           "(install pocl-binary-distribution, or use device='numpy')")
    return OpenCLDevice(0 if name == "cl" else int(name[3:]))


def default_device() -> str:
    global _default
    if _default is None:
        wanted = os.environ.get("LT_DEVICE")
        if wanted:
            _default = canonical_name(wanted)
        else:
            from .opencl import opencl_devices
            if opencl_devices():
                _default = "cl"
            else:
                warnings.warn("lazytensor: no OpenCL platform found; using the 'numpy' device", stacklevel=2)
                _default = "numpy"
    return _default


def set_default_device(name) -> None:
    global _default
    name = canonical_name(name)
    get_device(name)  # fail now, naming the problem, rather than at the first op
    _default = name
