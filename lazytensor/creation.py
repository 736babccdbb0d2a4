"""Creating tensors: from data, filled, ranges."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .ir import build as B
from . import host_sharing
from .ir import dtype as D
from .ir.node import buffer_node, const
from .runtime.buffer import Buffer, BufferView
from .runtime.devices import canonical_name, default_device, get_device
from .runtime.stats import STATS
from .ir.layout import contiguous_strides
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor


def resolve_device(device) -> str:
    if device is None:
        return default_device()
    return canonical_name(getattr(device, "name", device))


def resolve_dtype(dtype, fallback: D.DType = D.float32) -> D.DType:
    return fallback if dtype is None else D.to_dtype(dtype)


def check_dtype_on_device(dtype: D.DType, device: str, op: str) -> None:
    if not get_device(device).supports(dtype):
        raise RuntimeError(f"{op}: dtype {dtype.name} is not supported on device '{device}' "
                           f"(the OpenCL device has no cl_khr_fp64); use device='numpy' or float32")


def check_scalar_fits(op: str, value, dtype: D.DType, shape) -> None:
    """A scalar written into an integer tensor must be one of its values, as PyTorch requires
    (an arithmetic operand wraps instead: see ir/dtype.wrap_integer)."""
    if not D.holds(value, dtype):
        raise RuntimeError(f"{op}: value {value!r} cannot be converted to {dtype.name} without overflow "
                           f"(tensor of shape {tuple(shape)})")


def _infer_dtype(data: Any) -> D.DType:
    if isinstance(data, np.ndarray):
        return D.from_numpy(data.dtype)
    if isinstance(data, TensorBase):
        return data.dtype
    flat = list(_flatten(data))
    strings = [v for v in flat if isinstance(v, (str, bytes))]
    if strings:
        raise TypeError(f"tensor(): invalid data type '{type(strings[0]).__name__}'")
    if any(isinstance(v, TensorBase) and v.dtype.is_floating_point for v in flat):
        return D.float32
    if any(isinstance(v, (float, np.floating)) for v in flat):
        return D.float32
    if flat and all(isinstance(v, (bool, np.bool_)) for v in flat):
        return D.bool_
    return D.int64 if flat else D.float32


def _flatten(data):
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        else:
            yield x


def upload(array: np.ndarray, dtype: D.DType, device: str):
    """Copy host data to a new device buffer and wrap it in a leaf node."""
    check_dtype_on_device(dtype, device, "tensor")
    array = np.require(D.to_storage(array, dtype), requirements="C")
    dev = get_device(device)
    buf = Buffer(dev, dtype, array.size)
    STATS.bytes_allocated += buf.nbytes
    dev.copyin(buf.raw, array)
    node = buffer_node(BufferView(buf, array.shape, contiguous_strides(array.shape)), dtype, array.shape, device)
    return node


def _to_array(data: Any, dtype: D.DType) -> np.ndarray:
    if isinstance(data, TensorBase):
        return data.numpy().astype(D.host_type(dtype))
    if isinstance(data, (list, tuple)):
        data = [_to_array(x, dtype) if isinstance(x, TensorBase) else x for x in data] \
            if any(isinstance(x, TensorBase) for x in data) else data
    return np.array(data, dtype=D.host_type(dtype))


def _as_host_array(data: Any) -> Any:
    """Another library's array (a torch tensor, anything with __array__) as a NumPy array, so
    its dtype is read rather than guessed from its elements."""
    if isinstance(data, (np.ndarray, TensorBase, list, tuple)) or not hasattr(data, "__array__"):
        return data
    if hasattr(data, "detach"):  # a torch tensor that requires grad refuses __array__
        data = data.detach().cpu()
    return np.asarray(data)


def node_from_data(data: Any, dtype=None, device=None):
    data = _as_host_array(data)
    dt = resolve_dtype(dtype, _infer_dtype(data))
    return upload(_to_array(data, dt), dt, resolve_device(device if device is not None else
                                                           (data.device if isinstance(data, TensorBase) else None)))


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, NumPy arrays, tensors)."""
    t = wrap(node_from_data(data, dtype, device))
    t.requires_grad = requires_grad
    return t


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that is `array`'s memory on the numpy device (writes either way show in the
    other, as in PyTorch); a copy where it cannot be (host_sharing.can_share says when)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    if any(s < 0 for s in array.strides):
        raise ValueError(f"from_numpy: at least one stride in the given numpy array is negative (strides "
                         f"{array.strides}); pass array.copy() instead")
    device = resolve_device(None)
    if host_sharing.can_share(array, device):
        return wrap(host_sharing.sharing_node(array, device))
    return tensor(array)


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    if isinstance(data, TensorBase) and (dtype is None or D.to_dtype(dtype) == data.dtype) and \
            (device is None or resolve_device(device) == data.device.name):
        return data
    if isinstance(data, TensorBase):
        return data.to(device=device if device is not None else data.device, dtype=dtype)
    return tensor(data, dtype=dtype, device=device)


def parse_size(size: Sequence, op: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(s, (int, np.integer)) for s in size):
        raise TypeError(f"{op}(): size must be ints or a tuple of ints, got {size!r}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}(): negative dimension in size {tuple(size)}")
    return tuple(int(s) for s in size)


def _filled(op: str, value, size, dtype, device, requires_grad=False) -> Tensor:
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, D.scalar_dtype(value) if op == "full" else D.float32)
    check_dtype_on_device(dt, dev, op)
    shape = parse_size(size, op)
    check_scalar_fits(op, value, dt, shape)
    # a filled tensor holds values of its dtype (a Python scalar operand of an op does not)
    t = wrap(const(D.round_to(value, dt), dt, shape, dev))
    t.requires_grad = requires_grad
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled("zeros", 0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled("ones", 1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled("empty", 0, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled("full", fill_value, (size,) if isinstance(size, int) else (tuple(size),), dtype, device,
                   requires_grad)


def _like(x: Tensor, dtype, device):
    return (x.dtype if dtype is None else dtype), (x.device if device is None else device)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(x, dtype, device)
    return zeros(x.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(x, dtype, device)
    return ones(x.shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    values = [v.item() if isinstance(v, TensorBase) else v for v in (start, end, step)]
    start, end, step = values
    is_float = any(isinstance(v, float) for v in values)
    dt = resolve_dtype(dtype, D.float32 if is_float else D.int64)
    n = max(0, math.ceil((end - start) / step))
    dev = resolve_device(device)
    check_dtype_on_device(dt, dev, "arange")
    compute = D.float64 if (dt.is_floating_point and get_device(dev).supports(D.float64)) else dt
    idx = B.iota((n,), 0, compute if compute.is_floating_point else D.int64, dev)
    value = B.elementwise("add", B.elementwise("mul", idx, const(step, idx.dtype, (n,), dev)),
                          const(start, idx.dtype, (n,), dev))
    t = wrap(B.cast(value, dt))
    t.requires_grad = requires_grad
    return t


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad=False) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative (got {steps})")
    dt = resolve_dtype(dtype)
    dev = resolve_device(device)
    if steps == 1:
        return full((1,), start, dtype=dt, device=dev)
    step = (end - start) / (steps - 1)
    # as PyTorch: the first half counts up from start, the second half down from end
    idx = B.iota((steps,), 0, D.float32, dev)
    up = B.elementwise("add", const(start, D.float32, (steps,), dev),
                       B.elementwise("mul", idx, const(step, D.float32, (steps,), dev)))
    down = B.elementwise("sub", const(end, D.float32, (steps,), dev), B.elementwise(
        "mul", B.elementwise("sub", const(steps - 1, D.float32, (steps,), dev), idx),
        const(step, D.float32, (steps,), dev)))
    half = B.elementwise("lt", idx, const(steps // 2, D.float32, (steps,), dev))
    t = wrap(B.cast(B.elementwise("where", half, up, down), dt))
    t.requires_grad = requires_grad
    return t


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    m = n if m is None else m
    dev = resolve_device(device)
    rows = B.iota((n, m), 0, D.int64, dev)
    cols = B.iota((n, m), 1, D.int64, dev)
    t = wrap(B.cast(B.elementwise("eq", rows, cols), resolve_dtype(dtype)))
    t.requires_grad = requires_grad
    return t



def _triangle_indices(op: str, row: int, col: int, offset: int, upper: bool, dtype, device) -> Tensor:
    """The (row, column) indices of a triangle of a row x col matrix, row by row, as a 2 x N
    tensor: sizes only, so they are known here and placed on the device as data."""
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row and col must be non-negative, got row={row}, col={col}")
    dt = resolve_dtype(dtype, D.int64)
    if dt not in (D.int32, D.int64):
        raise RuntimeError(f"{op}: dtype must be int32 or int64, got {dt.name}")
    rows, cols = np.triu_indices(row, offset, col) if upper else np.tril_indices(row, offset, col)
    return tensor(np.stack([rows, cols]).astype(np.int64).reshape(2, -1), dtype=dt, device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    return _triangle_indices("tril_indices", row, col, offset, False, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    return _triangle_indices("triu_indices", row, col, offset, True, dtype, device)


def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(self, dtype, device)
    return zeros(*size, dtype=dt, device=dev, requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(self, dtype, device)
    return ones(*size, dtype=dt, device=dev, requires_grad=requires_grad)


def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(self, dtype, device)
    return full(size, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(self, dtype, device)
    return tensor(data, dtype=dt, device=dev, requires_grad=requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number s (float32 unless dtype says otherwise)."""
    return tensor(s, dtype=resolve_dtype(dtype), device=device, requires_grad=requires_grad)


def new(self: Tensor, *args, device=None) -> Tensor:
    """The legacy constructor: sizes give an uninitialised tensor (zeros here), a list or tuple
    gives data, a tensor of self's dtype is returned as an alias; always self's dtype."""
    if len(args) == 1 and isinstance(args[0], TensorBase):
        if args[0].dtype != self.dtype:
            raise TypeError(f"new(): expected a tensor of dtype {self.dtype.name}, got {args[0].dtype.name} "
                            f"(shape {tuple(args[0].shape)})")
        return args[0].view_as(args[0])
    if len(args) == 1 and isinstance(args[0], (list, tuple)) and not hasattr(args[0], "numel"):
        return self.new_tensor(args[0], device=device)
    return self.new_empty(args[0] if len(args) == 1 else args, device=device) if args else \
        self.new_empty(0, device=device)


def empty_strided(size, stride, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor (zeros here) with the given strides: any dense layout, as a
    permutation of a contiguous tensor; an overlapping or gapped layout raises."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape ({size} and {stride})")
    order = sorted(range(len(size)), key=lambda d: -stride[d])
    dense = zeros(tuple(size[d] for d in order), dtype=dtype, device=device)
    out = dense.permute([order.index(d) for d in range(len(size))])
    # a dim of size 1 is never stepped along: any stride does for it
    if any(n > 1 and got != want for n, got, want in zip(size, out.stride(), stride)):
        raise NotImplementedError(f"empty_strided: lazytensor makes only dense layouts (a permutation of a "
                                  f"contiguous one); size {size} with stride {stride} is not one")
    if requires_grad and out is not dense and out.numel() > 1:
        raise NotImplementedError(f"empty_strided: a permuted layout (size {size}, stride {stride}) is a view, and "
                                  f"lazytensor's views cannot be leaves that require grad; use a contiguous stride")
    out.requires_grad = requires_grad
    return out


def new_empty_strided(self: Tensor, size, stride, dtype=None, device=None, requires_grad=False) -> Tensor:
    dt, dev = _like(self, dtype, device)
    return empty_strided(size, stride, dtype=dt, device=dev, requires_grad=requires_grad)


def asarray(obj: Any, *, dtype=None, device=None, copy: bool | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor sharing `obj`'s memory where it can (a tensor, a NumPy array on the numpy
    device), a copy where `copy` asks for one or the dtype or device differs."""
    if copy:
        out = tensor(obj, dtype=dtype, device=device)
    elif isinstance(obj, np.ndarray) and dtype is None and device is None:
        out = from_numpy(obj)
    else:
        out = as_tensor(obj, dtype=dtype, device=device)
    if copy is False and isinstance(obj, TensorBase) and out is not obj:
        raise ValueError(f"asarray: can't alias a tensor of dtype {obj.dtype.name} on {obj.device} into "
                         f"dtype {out.dtype.name} on {out.device} (copy=False)")
    if requires_grad:
        out.requires_grad_()
    return out


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """base ** linspace(start, end, steps); for an integer dtype the ends are truncated first,
    as PyTorch's are."""
    dt = resolve_dtype(dtype)
    if not dt.is_floating_point:
        start, end = math.trunc(start), math.trunc(end)
    exponents = linspace(start, end, steps, dtype=D.float64 if dt == D.float64 else D.float32, device=device)
    out = (base ** exponents).to(dt)
    out.requires_grad = requires_grad
    return out
