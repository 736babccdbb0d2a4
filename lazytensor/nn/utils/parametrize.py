"""torch.nn.utils.parametrize: a module's tensor recomputed from `parametrizations.<name>.original`
by a chain of modules each time it is read (a property on a subclass made for the module), so
that gradients reach the original and an optimizer trains it."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from ...autodiff.grad_mode import no_grad
from ...tensor import Tensor
from ..module import Module, ModuleDict, ModuleList
from ..parameter import Parameter, keep_leaf_inplace

_cache_enabled = 0
_cache: dict[tuple[int, str], Tensor] = {}


@contextmanager
def cached() -> Iterator[None]:
    """Inside, each parametrized tensor is computed once, at its first read, and reused."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _set_in_place(original: Tensor, value: Tensor) -> None:
    """PyTorch's `original.set_(value)`: the same tensor object (an optimizer may hold it)
    takes the new value, under no_grad, staying a leaf."""
    if tuple(original.shape) == tuple(value.shape):
        keep_leaf_inplace(original, lambda t: t.copy_(value))
    else:
        original.data = value.detach()


def _register(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _check_same(got_name: str, want_name: str, got: Tensor, want: Tensor) -> None:
    """PyTorch's refusal of a parametrization that changes the dtype or shape (unless unsafe);
    the names say which tensors the message compares."""
    if not isinstance(got, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(got).__name__}.")
    for what, g, w in (("dtype", got.dtype, want.dtype), ("shape", tuple(got.shape), tuple(want.shape))):
        if g != w:
            raise ValueError(f"Registering a parametrization may not change the {what} of the tensor, unless "
                             f"`unsafe` flag is enabled.\n{want_name} {what}: {w}\n{got_name} {what}: {g}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, and its original(s): `original`, or `original0`,
    `original1`, ... when the first parametrization's right_inverse returns several."""

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, tuple, list)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != original.dtype:
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}")
            _set_in_place(original, new)
            _register(self, "original", original)
        else:
            for i, value in enumerate(new):
                if not isinstance(value, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...)."
                                     f" Got element {i} of the sequence with type {type(value).__name__}.")
                value = value.detach().clone()
                if isinstance(original, Parameter):
                    value = Parameter(value, original.requires_grad)
                _register(self, f"original{i}", value)
        if not unsafe:
            _check_same("parametrized", "unparametrized", self(), original)

    def right_inverse(self, value: Tensor) -> None:
        """Store `value` as the original(s), through each parametrization's right_inverse in
        reverse order."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
                value = module.right_inverse(value)
        values = (value,) if self.is_tensor else value
        if not self.is_tensor and (not isinstance(value, (tuple, list)) or len(value) != self.ntensors):
            raise ValueError(f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                             f"Got {type(value).__name__}.")
        for original, v in zip(self._originals(), values):
            if not isinstance(v, Tensor):
                raise ValueError(f"`right_inverse` should return a tensor. Got {type(v).__name__}")
            if v.dtype != original.dtype:
                raise ValueError(f"The tensor returned by `right_inverse` has dtype {v.dtype} while `original` "
                                 f"has dtype {original.dtype}")
            _set_in_place(original, v)

    def _originals(self) -> list[Tensor]:
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def forward(self) -> Tensor:
        modules = list(self)
        x = modules[0](*self._originals())
        for module in modules[1:]:
            x = module(x)
        return x


def _parametrized_value(module: Module, name: str) -> Tensor:
    plist = module.parametrizations[name]
    if not _cache_enabled:
        return plist()
    key = (id(module), name)
    if key not in _cache:
        _cache[key] = plist()
    return _cache[key]


def _inject_new_class(module: Module) -> None:
    """Give the module a class of its own, so that properties added to it touch no other module."""
    cls = module.__class__

    def __setattr__(self, name, value):  # a parametrized name is set through its right_inverse
        if isinstance(getattr(type(self), name, None), property) and is_parametrized(self, name):
            object.__setattr__(self, name, value)
        else:
            cls.__setattr__(self, name, value)
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"__setattr__": __setattr__})


def _inject_property(module: Module, name: str) -> None:
    setattr(module.__class__, name, property(lambda self: _parametrized_value(self, name),
                                             lambda self, value: self.parametrizations[name].right_inverse(value)))


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make `module.<tensor_name>` the output of `parametrization` applied to the original
    tensor (kept as `module.parametrizations.<tensor_name>.original`)."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            _check_same(f"parametrization(module.{tensor_name})", f"module.{tensor_name}",
                        parametrization(current), current)
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{type(module).__name__}' does not have a parameter, a buffer, or a parametrized "
                         f"element with name '{tensor_name}'")
    plist = ParametrizationList([parametrization], getattr(module, tensor_name), unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_new_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether the module has a parametrization (on `tensor_name`, when given)."""
    plists = module._modules.get("parametrizations") if isinstance(module, Module) else None
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Make `tensor_name` a plain parameter (or buffer) again: its current parametrized value,
    or with leave_parametrized=False its original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                _set_in_place(original, getattr(module, tensor_name))
    elif leave_parametrized:
        value = getattr(module, tensor_name)
        original = Parameter(value.detach()) if value.requires_grad else value.detach()
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                         "in terms of a sequence of tensors.")
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before parametrizations gave it one of their own."""
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)
