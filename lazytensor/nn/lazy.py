"""Modules whose sizes are inferred at the first call (LazyLinear, LazyConv1-3d,
LazyConvTranspose1-3d, LazyBatchNorm1-3d, LazyInstanceNorm1-3d), with UninitializedParameter / UninitializedBuffer: placeholders without a
shape, materialised in place (so an optimiser holding them sees the real values) once the
first input is seen, or when a state_dict with their shapes is loaded. The module then
becomes the regular one (cls_to_become), as in PyTorch."""
from __future__ import annotations

from ..autograd import no_grad
from ..creation import empty
from ..tensor import Tensor
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .parameter import Parameter

_SHAPELESS = ("Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
              "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
              "`forward` to initialize the parameters before accessing their attributes.")


class _Uninitialized:
    """A placeholder tensor: no shape until materialize(shape) gives it its data and class."""
    __slots__ = ()
    cls_to_become: type = Tensor

    def detach(self):
        return self  # a state_dict holds the placeholder itself, as PyTorch's

    @property
    def shape(self):
        raise RuntimeError(_SHAPELESS)

    def size(self, dim=None):
        raise RuntimeError(_SHAPELESS)

    def numel(self) -> int:
        raise RuntimeError(_SHAPELESS)

    def materialize(self, shape, device=None, dtype=None) -> None:
        with no_grad():
            self.data = empty(tuple(shape), device=device or self.device, dtype=dtype or self.dtype)
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__


class UninitializedParameter(_Uninitialized, Parameter):
    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass


class UninitializedBuffer(_Uninitialized, Tensor):
    __slots__ = ()

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        data = empty(0, device=device, dtype=dtype)
        obj = Tensor.__new__(cls)
        obj._setup(data._storage, data._chain)
        return obj

    def __init__(self, *args, **kwargs) -> None:
        pass


def is_lazy(value) -> bool:
    return isinstance(value, _Uninitialized)


class LazyModuleMixin:
    """The first call infers the sizes (initialize_parameters), checks every placeholder was
    materialised and turns the module into cls_to_become; loading a state_dict materialises the
    placeholders it names with its shapes first."""
    cls_to_become: type | None = None

    def has_uninitialized_params(self) -> bool:
        return any(is_lazy(t) for t in (*self._parameters.values(), *self._buffers.values()))

    def __call__(self, *args, **kwargs):
        if type(self).cls_to_become is not None:  # still the lazy class
            self.initialize_parameters(*args, **kwargs)
            if self.has_uninitialized_params():
                raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
            if type(self).cls_to_become is not None:
                self.__class__ = type(self).cls_to_become
        return Module.__call__(self, *args, **kwargs)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, *args) -> None:
        placeholders = []  # a placeholder given for a placeholder: nothing to load
        for name, value in (*self._parameters.items(), *self._buffers.items()):
            given = state_dict.get(prefix + name)
            if is_lazy(value) and given is not None:
                if is_lazy(given):
                    placeholders.append(prefix + name)
                else:
                    value.materialize(tuple(given.shape))
        rest = {k: v for k, v in state_dict.items() if k not in placeholders}
        super()._load_from_state_dict(rest, prefix, local_metadata, strict, missing_keys, *args)
        missing_keys[:] = [k for k in missing_keys if k not in placeholders]

    def _materialize(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Give each placeholder named in `shapes` its shape, then the regular initialisation."""
        for name, shape in shapes.items():
            value = getattr(self, name)
            if is_lazy(value):
                value.materialize(shape)
        self.reset_parameters()


def _placeholders(module: Module, parameters: tuple[str, ...], buffers: tuple[str, ...] = ()) -> None:
    """Swap the named parameters and buffers the regular constructor made (those not None) for
    placeholders of their device and dtype."""
    for name in parameters:
        if getattr(module, name) is not None:
            old = getattr(module, name)
            module.register_parameter(name, UninitializedParameter(device=old.device, dtype=old.dtype))
    for name in buffers:
        if getattr(module, name) is not None:
            old = getattr(module, name)
            module.register_buffer(name, UninitializedBuffer(device=old.device, dtype=old.dtype))


class LazyLinear(LazyModuleMixin, Linear):
    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Linear.__init__(self, 0, 0, bias, device, dtype)
        self.out_features = out_features
        _placeholders(self, ("weight", "bias"))

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        self.in_features = self.in_features or input.shape[-1]  # also after a state_dict materialised it
        if self.has_uninitialized_params():
            self._materialize({"weight": (self.out_features, self.in_features), "bias": (self.out_features,)})


class _LazyConvNd(LazyModuleMixin):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, *rest, **kwargs) -> None:
        self.cls_to_become.__init__(self, 0, 0, kernel_size, stride, padding, *rest, **kwargs)
        self.out_channels = out_channels
        _placeholders(self, ("weight", "bias"))

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            self.cls_to_become.reset_parameters(self)

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {list(input.shape)}")
        self.in_channels = self.in_channels or (input.shape[1] if input.ndim == nd + 2 else input.shape[0])
        if self.in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({self.in_channels}) must be divisible by groups "
                             f"({self.groups})")
        if self.has_uninitialized_params():
            self._materialize({"weight": self._weight_shape(self.in_channels, self.out_channels, self.groups),
                           "bias": (self.out_channels,)})


def _lazy(name: str, mixin: type, regular: type, inferred: str) -> type:
    """The lazy form of module class `regular`: `mixin` infers `inferred` at the first call, and
    the module then becomes a `regular`."""
    return type(name, (mixin, regular), {"cls_to_become": regular,
                                         "__doc__": f"A {regular.__name__} whose {inferred} is inferred."})


def _lazy_conv(name: str, regular: type) -> type:
    return _lazy(name, _LazyConvNd, regular, "in_channels")


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d)
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d)
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d)
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d)


class _LazyBatchNorm(LazyModuleMixin):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        self.cls_to_become.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        _placeholders(self, ("weight", "bias"), ("running_mean", "running_var"))

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            self.cls_to_become.reset_parameters(self)

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input with a channel dim, got shape "
                             f"{tuple(input.shape)}")
        self.num_features = self.num_features or input.shape[self._channel_dim(input)]
        if self.has_uninitialized_params():
            self._materialize({name: (self.num_features,)
                               for name in ("weight", "bias", "running_mean", "running_var")})

    def _channel_dim(self, input: Tensor) -> int:
        return 1


class _LazyInstanceNorm(_LazyBatchNorm):
    """PyTorch's defaults for the lazy form: affine and running statistics on."""

    def _channel_dim(self, input: Tensor) -> int:
        """The channels of an unbatched input lead (PyTorch reads dim 1 there too, a spatial dim)."""
        n = self._spatial
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{type(self).__name__}: expected {n + 1}D or {n + 2}D input (got {input.ndim}D input "
                             f"of shape {tuple(input.shape)})")
        return 0 if input.ndim == n + 1 else 1


def _lazy_norm(name: str, regular: type) -> type:
    return _lazy(name, _LazyBatchNorm, regular, "num_features")


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d)
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d)
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d)
LazyInstanceNorm1d = _lazy("LazyInstanceNorm1d", _LazyInstanceNorm, InstanceNorm1d, "num_features")
LazyInstanceNorm2d = _lazy("LazyInstanceNorm2d", _LazyInstanceNorm, InstanceNorm2d, "num_features")
LazyInstanceNorm3d = _lazy("LazyInstanceNorm3d", _LazyInstanceNorm, InstanceNorm3d, "num_features")
