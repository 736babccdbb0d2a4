"""Changing dtype or device, copies and aliases."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .ir import build as B
from .ir import dtype as D
from .ir.dtype import DType
from .creation import check_dtype_on_device, check_scalar_fits, resolve_device, upload
from .elementwise import broadcast_shapes
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor


def _parse_to(args, kwargs) -> tuple[str | None, DType | None]:
    dev, dt = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, TensorBase):
            dev, dt = a.device, a.dtype
        elif isinstance(a, (DType, type)) or (isinstance(a, str) and a.replace("torch.", "").replace(
                "lazytensor.", "") in D.BY_NAME):
            dt = a
        elif a is not None:
            dev = a
    return (None if dev is None else resolve_device(dev)), (None if dt is None else D.to_dtype(dt))


def to(self: Tensor, *args, **kwargs) -> Tensor:
    """.to(dtype), .to(device), .to(device, dtype), .to(other): self when nothing changes."""
    dev, dt = _parse_to(args, kwargs)
    out = self
    if dev is not None and dev != self.device.name:
        check_dtype_on_device(dt or self.dtype, dev, "to")
        host = self.numpy()
        out = wrap(upload(host, self.dtype, dev))
        out.requires_grad = self.requires_grad
    if dt is not None and dt != out.dtype:
        check_dtype_on_device(dt, out.device.name, "to")
        out = wrap(B.cast(out.node, dt))
    return out


def _caster(name: str, dtype: DType):
    def fn(self: Tensor, memory_format=None) -> Tensor:
        return self.to(dtype)
    fn.__name__ = name
    return fn


float_, half, double = _caster("float", D.float32), _caster("half", D.float16), _caster("double", D.float64)
bfloat16 = _caster("bfloat16", D.bfloat16)
int_, long, bool_ = _caster("int", D.int32), _caster("long", D.int64), _caster("bool", D.bool_)
byte, char, short = _caster("byte", D.uint8), _caster("char", D.int8), _caster("short", D.int16)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    return self.to(other.dtype)


def type_(self: Tensor, dtype=None):
    """The legacy type name ('lazytensor.FloatTensor'), or the tensor converted to `dtype` (a
    dtype, a legacy class such as lt.DoubleTensor, or its name)."""
    if dtype is None:
        return f"lazytensor.{D.LEGACY_NAMES.get(self.dtype, self.dtype.name)}"
    return self.to(D.to_dtype(dtype))


def cpu(self: Tensor) -> Tensor:
    """The tensor on the host's device ('cpu': see runtime/devices.host_device)."""
    return self.to("cpu")


def cuda(self: Tensor, device=None, non_blocking: bool = False) -> Tensor:
    """There is no CUDA device: raise as PyTorch does without one (the GPU path is 'cl')."""
    from .cuda import NO_CUDA
    raise RuntimeError(NO_CUDA)


def clone(self: Tensor, memory_format=None) -> Tensor:
    """A new tensor with its own storage and the same values (copied only when realised)."""
    return self * 1 if self.requires_grad else wrap(self.node)


def detach(self: Tensor) -> Tensor:
    return self.data


def detach_(self: Tensor) -> Tensor:
    self._chain, self._view = self._chain + (("detach", None),), None
    return self


def requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    self.requires_grad = requires_grad
    return self


def copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    if not isinstance(src, TensorBase):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if broadcast_shapes("copy_", self.shape, src.shape) != tuple(self.shape):
        raise RuntimeError(f"copy_: source shape {tuple(src.shape)} cannot be broadcast to {tuple(self.shape)}")
    if src.device != self.device:
        src = src.to(self.device)
    return self._assign(src.node)


def zero_(self: Tensor) -> Tensor:
    return self.fill_(0)


def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, TensorBase) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions "
                           f"(shape {tuple(value.shape)}).")
    value = value.item() if isinstance(value, TensorBase) else value
    check_scalar_fits("fill_", value, self.dtype, self.shape)
    return self._assign(B.full_like_node(self.node, value, self.dtype))


def fill(self: Tensor, value) -> Tensor:
    """A copy of self with every element `value`."""
    return fill_(self.clone(), value)


def _reshape_inplace(name: str, build):
    def fn(self: Tensor, *args) -> Tensor:
        view = build(self, *args)
        self._chain, self._view = view._chain, None
        return self
    fn.__name__ = name
    return fn


t_ = _reshape_inplace("t_", lambda self: self.t())
transpose_ = _reshape_inplace("transpose_", lambda self, a, b: self.transpose(a, b))
unsqueeze_ = _reshape_inplace("unsqueeze_", lambda self, d: self.unsqueeze(d))
squeeze_ = _reshape_inplace("squeeze_", lambda self, d=None: self.squeeze(d))
swapaxes_ = _reshape_inplace("swapaxes_", lambda self, a, b: self.transpose(a, b))

