"""torch.nn.utils.stateless / torch.func.functional_call: call a module with some of its
parameters and buffers replaced by given tensors (gradients then flow to those tensors)."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Iterator

from ...tensor import Tensor
from ..module import Module
from .parametrize import is_parametrized

_MISSING = object()


def _tied_names(module: Module) -> dict[str, set[str]]:
    """Each name of a parameter or buffer registered under several names -> all its names."""
    names: dict[int, set[str]] = {}
    for getter in (module.named_parameters, module.named_buffers):
        for name, t in getter(remove_duplicate=False):
            names.setdefault(id(t), set()).add(name)
    return {name: group for group in names.values() if len(group) > 1 for name in group}


def _untie(module: Module, given: dict[str, Tensor]) -> dict[str, Tensor]:
    """A value given for one name of a tied tensor replaces it under every name."""
    tied = _tied_names(module)
    out = dict(given)
    for name in given:
        group = tied.get(name, set())
        if len({id(given[n]) for n in group if n in given}) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(group)}, which are tied. "
                             "Consider using tie_weights=False")
        out.update({n: given[name] for n in group})
    return out


def _store_of(owner: Module, attr: str) -> dict | None:
    for store in (owner._parameters, owner._buffers):
        if attr in store:
            return store
    return None


def _swap(module: Module, name: str, value: Any) -> Any:
    """Put `value` in place of the tensor called `name`; returns what was there (or _MISSING)."""
    path, _, attr = name.rpartition(".")
    owner = module.get_submodule(path)
    if is_parametrized(owner, attr):
        raise NotImplementedError(f"functional_call: replacing the parametrized tensor {name!r} (which bypasses its "
                                  f"parametrization in PyTorch) is not supported; pass a value for "
                                  f"'{path + '.' if path else ''}parametrizations.{attr}.original' instead")
    store = _store_of(owner, attr)
    if store is not None:
        old, store[attr] = store[attr], value
        return old
    old = owner.__dict__.get(attr, _MISSING)
    if value is _MISSING:
        owner.__dict__.pop(attr, None)
    else:
        owner.__dict__[attr] = value
    return old


def _check_keys(module: Module, given: dict[str, Tensor]) -> None:
    known = {n for n, _ in module.named_parameters(remove_duplicate=False)}
    known |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
    errors = []
    unexpected, missing = sorted(set(given) - known), sorted(known - set(given))
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(errors))


@contextmanager
def _reparametrize_module(module: Module, given: dict[str, Tensor], tie_weights: bool = False,
                          strict: bool = False) -> Iterator[None]:
    values = _untie(module, given) if tie_weights else dict(given)
    if strict:
        _check_keys(module, values)
    originals: dict[str, Any] = {}
    try:
        for name, value in values.items():
            originals[name] = _swap(module, name, value)
        yield
    finally:
        for name, old in originals.items():
            now = _swap(module, name, old)
            if name in given:  # a module that reassigned a buffer hands the new one back, as PyTorch
                given[name] = now


def _functional_call(module: Module, parameters_and_buffers: dict[str, Tensor], args=None, kwargs=None, *,
                     tie_weights: bool = True, strict: bool = False):
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def functional_call(module: Module, parameters_and_buffers: dict[str, Tensor], args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Deprecated: torch.func.functional_call (lt.func.functional_call) is the same."""
    warnings.warn("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be removed "
                  "in a future version of PyTorch. Please use `torch.func.functional_call` instead which is a "
                  "drop-in replacement.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)
