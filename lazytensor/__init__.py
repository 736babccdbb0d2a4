"""lazytensor: PyTorch's eager API, a lazy fusing compiler inside (OpenCL and NumPy backends)."""
from __future__ import annotations

from . import config
from .ir.dtype import DType as dtype
from .ir.dtype import bool_ as bool
from .ir.dtype import float16, float32, float64, int32, int64, uint8
from .tensor import FUNCTIONS, Size, Tensor, device
from . import creation, elementwise, movement, reduce, conversion, indexing, linalg, random, sorting  # noqa: F401  (registers ops)
from . import autograd, nn, optim  # noqa: F401
from .serialization import load, save  # noqa: F401
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled, inference_mode  # noqa: F401
from .runtime.devices import default_device, set_default_device
from .runtime.stats import reset_stats, stats
from .runtime import engine as _engine

half, float, double = float16, float32, float64
int, long = int32, int64
globals().update(FUNCTIONS)


def get_default_device() -> device:
    return device(default_device())


def realize(*tensors: Tensor) -> None:
    """Compute several tensors together (one schedule: shared work runs once)."""
    by_device: dict[str, list] = {}
    for t in tensors:
        nodes = by_device.setdefault(t._storage.node.device, [])
        nodes.append(t._storage.node)
        if t._chain:
            nodes.append(t.node)
    for dev, nodes in by_device.items():
        _engine.realize(nodes, dev)


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the device has finished (for timing)."""
    from .runtime.devices import get_device
    get_device(str(device) if device is not None else default_device()).synchronize()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


def result_type(a, b) -> dtype:
    return elementwise.result_dtype(a, b)


def promote_types(a: dtype, b: dtype) -> dtype:
    from .ir.dtype import promote
    return promote(a, b)


__all__ = ["Tensor", "Size", "tensor", "device", "dtype", "config", "stats", "reset_stats", "realize",
           "synchronize", "set_default_device", "get_default_device", "bool", "uint8", "float16", "float32",
           "float64", "int32", "int64", *FUNCTIONS]
