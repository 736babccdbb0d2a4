"""lt.jit(fn): run `fn` under the capture contract, once per input signature.

The contract is the one a replay of captured kernels needs. Inside `fn`, no value may
leave the device (lazytensor.capture raises, naming the call). A call with new shapes,
dtypes or devices is a new capture, reported at DEBUG=1. Each call returns new output
tensors, realised together when the call returns. Python values that `fn` reads, such
as globals or an optimizer's learning rate, are taken as they are at each call; a
replaying JIT would fix them at capture, so a jitted function must not depend on them
changing.

Today a later call runs `fn` again. Its realisations then reuse the schedules and
compiled kernels of the first call (the schedule cache), but the Python-side graph
building is not skipped yet: replaying the captured kernels alone is future work.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from . import config
from .capture import capturing
from .tensor_base import TensorBase, realize


def _signature(value: Any) -> Any:
    """What a capture depends on: every tensor's shape, dtype, device and grad flag, and the
    other arguments by type and (where hashable) value."""
    if isinstance(value, TensorBase):
        return ("tensor", tuple(value.shape), value.dtype.name, str(value.device), value.requires_grad)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _signature(v)) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))))
    try:
        hash(value)
        return (type(value).__name__, value)
    except TypeError:
        return (type(value).__name__, id(value))


def _tensors(value: Any) -> list[TensorBase]:
    if isinstance(value, TensorBase):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


class jit:
    """Wrap `fn` (also as a decorator: `@lt.jit`)."""

    def __init__(self, fn: Callable):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.signatures: set = set()

    @property
    def captures(self) -> int:
        """How many input signatures have been captured."""
        return len(self.signatures)

    def __call__(self, *args, **kwargs):
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        signature = _signature((args, kwargs))
        if signature not in self.signatures:
            self.signatures.add(signature)
            if config.DEBUG >= 1:
                shapes = [tuple(t.shape) for t in _tensors((args, kwargs))]
                print(f"[lt] jit {name}: capturing (capture {len(self.signatures)}) for input shapes {shapes}",
                      file=sys.stderr)
        with capturing(name):
            out = self.fn(*args, **kwargs)
        realize(*_tensors(out))
        return out

    def __get__(self, instance, owner):
        """As a method decorator: bind like a function."""
        return self if instance is None else functools.partial(self, instance)
