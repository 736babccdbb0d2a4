"""Changing dtype or device, copies and aliases."""
from __future__ import annotations

from .ir import build as B
from .ir import dtype as D
from .ir.dtype import DType
from .creation import check_dtype_on_device, resolve_device, upload
from .tensor import Tensor, register


def _parse_to(args, kwargs) -> tuple[str | None, DType | None]:
    dev, dt = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, (DType, type)) or (isinstance(a, str) and a.replace("torch.", "").replace(
                "lazytensor.", "") in D.BY_NAME):
            dt = a
        elif a is not None:
            dev = a
    return (None if dev is None else resolve_device(dev)), (None if dt is None else D.to_dtype(dt))


@register()
def to(self: Tensor, *args, **kwargs) -> Tensor:
    """.to(dtype), .to(device), .to(device, dtype), .to(other): self when nothing changes."""
    dev, dt = _parse_to(args, kwargs)
    out = self
    if dev is not None and dev != self.device.name:
        check_dtype_on_device(dt or self.dtype, dev, "to")
        host = self.numpy()
        out = Tensor._from_node(upload(host, self.dtype, dev))
        out.requires_grad = self.requires_grad
    if dt is not None and dt != out.dtype:
        check_dtype_on_device(dt, out.device.name, "to")
        out = Tensor._from_node(B.cast(out.node, dt))
    return out


def _caster(name: str, dtype: DType):
    def fn(self: Tensor, memory_format=None) -> Tensor:
        return self.to(dtype)
    fn.__name__ = name
    return fn


for _name, _dt in {"float": D.float32, "half": D.float16, "double": D.float64, "int": D.int32,
                   "long": D.int64, "bool": D.bool_, "byte": D.uint8}.items():
    register(_name)(_caster(_name, _dt))


@register()
def type_as(self: Tensor, other: Tensor) -> Tensor:
    return self.to(other.dtype)


@register("type")
def type_(self: Tensor, dtype=None):
    if dtype is None:
        return f"lazytensor.{self.dtype.name}"
    return self.to(dtype)


@register()
def cpu(self: Tensor) -> Tensor:
    return self.to("numpy")


@register()
def cuda(self: Tensor, device=None) -> Tensor:
    return self.to("cl")


@register(function=True)
def clone(self: Tensor, memory_format=None) -> Tensor:
    """A new tensor with its own storage and the same values (copied only when realised)."""
    return self * 1 if self.requires_grad else Tensor._from_node(self.node)


@register()
def detach(self: Tensor) -> Tensor:
    return self.data


@register()
def detach_(self: Tensor) -> Tensor:
    self._chain, self._view = self._chain + (("detach", None),), None
    return self


@register()
def requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    self.requires_grad = requires_grad
    return self


@register()
def copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    from .elementwise import broadcast_shapes
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if broadcast_shapes("copy_", self.shape, src.shape) != tuple(self.shape):
        raise RuntimeError(f"copy_: source shape {tuple(src.shape)} cannot be broadcast to {tuple(self.shape)}")
    if src.device != self.device:
        src = src.to(self.device)
    return self._assign(src.node)


@register()
def zero_(self: Tensor) -> Tensor:
    return self.fill_(0)


@register()
def fill_(self: Tensor, value) -> Tensor:
    value = value.item() if isinstance(value, Tensor) else value
    return self._assign(B.full_like_node(self.node, value, self.dtype))


def _reshape_inplace(name: str, build):
    def fn(self: Tensor, *args) -> Tensor:
        view = build(self, *args)
        self._chain, self._view = view._chain, None
        return self
    fn.__name__ = name
    return fn


register("t_")(_reshape_inplace("t_", lambda self: self.t()))
register("transpose_")(_reshape_inplace("transpose_", lambda self, a, b: self.transpose(a, b)))
register("unsqueeze_")(_reshape_inplace("unsqueeze_", lambda self, d: self.unsqueeze(d)))
register("squeeze_")(_reshape_inplace("squeeze_", lambda self, d=None: self.squeeze(d)))

