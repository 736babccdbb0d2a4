"""Device names, the registry of opened devices, and the default device."""
from __future__ import annotations

import os
import warnings
from functools import lru_cache

from .device import Device
from .numpy_device import NumpyDevice

_default: str | None = None


def canonical_name(name) -> str:
    """'cl', 'cl:1', 'numpy' ('cl:0' is cl; 'cpu' is the host's device, see host_device);
    raises on anything else."""
    name = str(name).strip().lower()
    if name == "cpu":
        return host_device()
    if name == "numpy":
        return "numpy"
    if name in ("cl", "cl:0", "opencl"):
        return "cl"
    if name.startswith("cl:") and name[3:].isdigit():
        return name
    raise RuntimeError(f"unknown device {name!r}: expected 'cl', 'cl:N' (OpenCL) or 'numpy'")


def host_device() -> str:
    """What 'cpu' names: the default device when it computes on the host CPU (OpenCL through
    PoCL, or numpy), else numpy. A script's .to('cpu') then stays on the device its model
    uses on a CPU machine, and leaves a GPU for host memory, as in PyTorch."""
    name = default_device()
    if name != "numpy" and get_device(name).caps.is_cpu:
        return name
    return "numpy"


def get_device(name) -> Device:
    return _device(canonical_name(name))


@lru_cache(maxsize=None)
def _device(name: str) -> Device:
    if name == "numpy":
        return NumpyDevice()
    from .opencl import OpenCLDevice, opencl_devices
    if not opencl_devices(1):
        raise RuntimeError(f"device {name!r} needs OpenCL, but no OpenCL platform was found "
                           "(install pocl-binary-distribution, or use device='numpy')")
    return OpenCLDevice(0 if name == "cl" else int(name[3:]))


def default_device() -> str:
    global _default
    if _default is None:
        wanted = os.environ.get("LT_DEVICE")
        if wanted:
            _default = "numpy" if wanted.strip().lower() == "cpu" else canonical_name(wanted)
        else:
            from .opencl import opencl_devices
            if opencl_devices(1):
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
